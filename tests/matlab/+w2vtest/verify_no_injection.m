function verify_no_injection(fx, folders)
    %VERIFY_NO_INJECTION Fail if any marker of the hostile file name was created.
    %   w2vtest.verify_no_injection(fx, folders) checks fx.marker (absolute) and
    %   fx.relative_markers in every folder of the cell array FOLDERS (plus the
    %   current folder and the toolbox root).

    w2vtest.verify(~isfile(fx.marker), 'a file name was executed: %s exists', fx.marker);
    folders = [folders(:)', {pwd(), w2v.internal.toolbox_root()}];
    markers = cellstr(fx.relative_markers);
    for f = 1:numel(folders)
        for m = 1:numel(markers)
            hit = fullfile(folders{f}, markers{m});
            w2vtest.verify(~isfile(hit), 'a file name was executed: %s exists', hit);
        end
    end
end
