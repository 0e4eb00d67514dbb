function v = version()
    %VERSION Version of the w2v toolbox and its Python backend.
    %   v = w2v.version() returns the version as a char row, e.g. '0.1.0'. It is
    %   read from python/w2vbackend/VERSION, the single place the number lives
    %   (the Python package and toolbox.prj use the same file).
    %
    %   Example
    %     fprintf('w2v %s\n', w2v.version());
    %
    %   See also w2v.setup.

    file = fullfile(w2v.internal.toolbox_root(), 'python', 'w2vbackend', 'VERSION');
    if ~isfile(file)
        error('w2v:versionMissing', ...
              'The version file %s is missing; the installation is incomplete.', file);
    end
    v = strtrim(w2v.internal.read_text(file));
end
