function quiet_cd(folder)
    %QUIET_CD Change the current folder without Octave's shadowing warning.
    %   w2v.internal.quiet_cd(folder). GNU Octave warns that +w2v/load.m
    %   "shadows a built-in function" whenever a folder holding +w2v becomes
    %   the current folder; it does not (w2v.load is namespaced). The warning
    %   is silenced for this call only and the caller's setting restored.

    state = warning('query', 'Octave:shadowed-function');
    restore = onCleanup(@() warning(state));
    warning('off', 'Octave:shadowed-function');
    cd(folder);
end
