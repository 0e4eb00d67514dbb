function [status, output] = run_command(argv, stderrTarget, libraryPath)
    %RUN_COMMAND Run a program through system() whatever the user's shell.
    %   status = w2v.internal.run_command(argv, ...) streams the program's
    %   output to the command window; [status, output] = ... captures stdout.
    %   Arguments as in w2v.internal.command_line: the data travel in
    %   environment variables, set just for this call and restored (or
    %   removed) afterwards, also when system() fails or is interrupted.

    if nargin < 2
        stderrTarget = '';
    end
    if nargin < 3
        libraryPath = [];
    end
    [command, env] = w2v.internal.command_line(argv, stderrTarget, libraryPath);
    previous = cellfun(@getenv, env(:, 1), 'UniformOutput', false);
    restore = onCleanup(@() put_back(env(:, 1), previous));
    for k = 1:size(env, 1)
        setenv(env{k, 1}, env{k, 2});
    end
    if nargout > 1
        [status, output] = system(command);
    else
        status = system(command);
    end
end

function put_back(names, values)
    % unsetenv came to MATLAB in R2022b; before, an empty value does as well.
    canUnset = exist('unsetenv') ~= 0; %#ok<EXIST>
    for k = 1:numel(names)
        if isempty(values{k}) && canUnset
            unsetenv(names{k});
        else
            setenv(names{k}, values{k});
        end
    end
end
