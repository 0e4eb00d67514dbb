function [tf, probe] = is_writable(folder)
    %IS_WRITABLE True when new files can be created in FOLDER (or, if it does
    %   not exist yet, in its nearest existing parent).
    %   [tf, probe] = w2v.internal.is_writable(folder) also returns the folder
    %   that was tried. The test creates and deletes one empty file, which is
    %   the only check that also holds for ACLs, read-only mounts and root.

    probe = char(folder);
    while ~isfolder(probe)
        parent = fileparts(probe);
        if isempty(parent) || strcmp(parent, probe)
            break
        end
        probe = parent;
    end
    [~, unique] = fileparts(tempname());
    testFile = fullfile(probe, ['.w2v_write_test_' unique]);
    fid = fopen(testFile, 'w');
    tf = fid >= 0;
    if tf
        fclose(fid);
        delete(testFile);
    end
end
