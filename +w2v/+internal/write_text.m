function write_text(file, text)
    %WRITE_TEXT Write a char row to a file as UTF-8 (the file is replaced).
    %   w2v.internal.write_text(file, text). Errors w2v:fileUnwritable when the
    %   file cannot be created.

    fid = fopen(file, 'w', 'n', 'UTF-8');
    if fid < 0
        error('w2v:fileUnwritable', 'Cannot open %s for writing.', file);
    end
    closer = onCleanup(@() fclose(fid));
    fprintf(fid, '%s', text);
end
