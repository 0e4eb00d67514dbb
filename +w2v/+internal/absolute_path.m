function out = absolute_path(path, base)
    %ABSOLUTE_PATH Make a path absolute, relative to the folder BASE.
    %   out = w2v.internal.absolute_path(path, base) returns a char row. Paths
    %   that are already absolute (/x, ~/x, C:\x, \\server\x) are kept; nothing
    %   is resolved through the file system, so the path need not exist.

    path = char(path);
    if strcmp(path, '.')
        out = char(base);
    elseif strncmp(path, '~/', 2) && ~ispc()
        out = [getenv('HOME') path(2:end)];
    elseif is_absolute(path)
        out = path;
    else
        out = fullfile(char(base), path);
    end
end

function tf = is_absolute(path)
    if ispc()
        tf = ~isempty(regexp(path, '^([A-Za-z]:[\\/]|[\\/]{2})', 'once'));
    else
        tf = strncmp(path, '/', 1);
    end
end
