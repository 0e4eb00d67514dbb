function rows = npy_reference(npyFile)
    %NPY_REFERENCE Values of a .npy file read by NumPy (not by w2v), as single.
    %   rows = w2vtest.npy_reference(npyFile) is [rows x hidden] single: the
    %   array as NumPy reads it, with (layers, frames, hidden) stacked layer by
    %   layer into (layers * frames) rows.

    textFile = [tempname() '_w2v_reference.txt'];
    cleanup = onCleanup(@() delete_if_present(textFile));
    script = fullfile(fileparts(fileparts(mfilename('fullpath'))), 'npy_to_text.py');
    w2vtest.run_python(script, npyFile, textFile);
    rows = single(load(textFile, '-ascii'));
end

function delete_if_present(file)
    if isfile(file)
        delete(file);
    end
end
