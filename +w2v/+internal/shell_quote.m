function quoted = shell_quote(text)
    %SHELL_QUOTE Quote one argument for the shell that system() starts.
    %   quoted = w2v.internal.shell_quote(text) returns a char row that the shell
    %   passes to the program as exactly TEXT, with nothing in it expanded or
    %   executed. POSIX sh: single quotes ('it'\''s'). Windows cmd.exe: double
    %   quotes; a double quote or a percent sign cannot be quoted safely there and
    %   is refused (error w2v:unsafePath).

    text = char(text);
    if ispc()
        if any(text == '"') || any(text == '%')
            error('w2v:unsafePath', ...
                  'Cannot pass the path %s to cmd.exe safely (it contains " or %%).', text);
        end
        quoted = ['"' text '"'];
    else
        quoted = ['''' strrep(text, '''', '''\''''') ''''];
    end
end
