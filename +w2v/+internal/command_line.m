function [command, env] = command_line(argv, stderrTarget, libraryPath)
    %COMMAND_LINE The shell command for one program run, and the variables it reads.
    %   [command, env] = w2v.internal.command_line(argv, stderrTarget, libraryPath)
    %   ARGV         cell array of char: the program and its arguments (data)
    %   STDERRTARGET '' (inherit), 1 (into stdout, as 2>&1) or a char path
    %                (the file that receives stderr)
    %   LIBRARYPATH  [] to leave LD_LIBRARY_PATH alone, else the char value it
    %                gets ('' unsets it)
    %   COMMAND      char: /bin/sh -c '<payload>', where the payload refers to
    %                the data only as "$W2V_ARG<k>" etc. It holds no user data,
    %                no backslash, no single quote, no ! and no newline, so sh,
    %                dash, bash, zsh, ksh, tcsh, csh and fish (whichever
    %                MATLAB_SHELL or SHELL names) all pass the same payload to
    %                /bin/sh, which expands the variables as plain words.
    %   ENV          n x 2 cell: variable names and values to setenv before
    %                system() (see w2v.internal.run_command).
    %   A value holding a newline or NUL is refused (w2v:unsafePath).

    if nargin < 2
        stderrTarget = '';
    end
    if nargin < 3
        libraryPath = [];
    end
    env = cell(0, 2);
    words = cell(1, numel(argv));
    for k = 1:numel(argv)
        name = sprintf('W2V_ARG%d', k - 1);
        env(end + 1, :) = {name, refuse_unsafe(argv{k})}; %#ok<AGROW>
        words{k} = ['"$' name '"'];
    end
    payload = ['exec ' strjoin(words, ' ')];
    if isnumeric(stderrTarget) && isequal(stderrTarget, 1)
        payload = [payload ' 2>&1'];
    elseif ~isempty(stderrTarget)
        env(end + 1, :) = {'W2V_STDERR', refuse_unsafe(stderrTarget)};
        payload = [payload ' 2>"$W2V_STDERR"'];
    end
    if ischar(libraryPath)
        env(end + 1, :) = {'W2V_LIBRARY_PATH', refuse_unsafe(libraryPath)};
        payload = ['if [ -n "$W2V_LIBRARY_PATH" ]; then LD_LIBRARY_PATH="$W2V_LIBRARY_PATH"; ' ...
                   'export LD_LIBRARY_PATH; else unset LD_LIBRARY_PATH; fi; ' payload];
    end
    command = ['/bin/sh -c ''' payload ''''];
end

function value = refuse_unsafe(value)
    value = char(value);
    if any(value == sprintf('\n')) || any(value == sprintf('\r')) || any(value == char(0))
        error('w2v:unsafePath', ...
              ['%s holds a line break or NUL character, which w2v cannot pass to ' ...
               'a program; rename it.'], strrep(strrep(value, sprintf('\n'), '\n'), ...
                                                sprintf('\r'), '\r'));
    end
end
