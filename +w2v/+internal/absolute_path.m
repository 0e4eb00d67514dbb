function out = absolute_path(path, base)
    %ABSOLUTE_PATH Make a path absolute, relative to the folder BASE.
    %   out = w2v.internal.absolute_path(path, base) returns a char row. Paths
    %   that are already absolute (/x, ~/x) are kept (~ becomes $HOME); nothing
    %   is resolved through the file system, so the path need not exist.

    path = char(path);
    if strcmp(path, '.')
        out = char(base);
    elseif strncmp(path, '~/', 2)
        out = [getenv('HOME') path(2:end)];
    elseif strncmp(path, '/', 1)
        out = path;
    else
        out = fullfile(char(base), path);
    end
end
