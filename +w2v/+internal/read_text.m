function text = read_text(file)
    %READ_TEXT Read a whole UTF-8 text file into a char row.
    %   text = w2v.internal.read_text(file). Errors w2v:fileUnreadable when the
    %   file cannot be opened.

    fid = fopen(file, 'r', 'n', 'UTF-8');
    if fid < 0
        error('w2v:fileUnreadable', 'Cannot open %s for reading.', file);
    end
    closer = onCleanup(@() fclose(fid));
    text = fread(fid, Inf, '*char')';
end
