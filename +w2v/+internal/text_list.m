function list = text_list(value, what)
    %TEXT_LIST Turn char, string array or cellstr into a cell array of char rows.
    %   list = w2v.internal.text_list(value, what) returns a cell array with the
    %   size of VALUE (1x1 for a char row). WHAT names the argument in the error
    %   (identifier w2v:badArgument) raised for anything else or an empty name.

    if ischar(value) && (isrow(value) || isempty(value))
        list = {value};
    elseif isstring(value)
        list = cellstr(value);
    elseif iscell(value) && all(cellfun(@w2v.internal.is_text, value(:)))
        list = cellfun(@char, value, 'UniformOutput', false);
    else
        error('w2v:badArgument', ...
              '%s must be a char vector, a string array or a cell array of char vectors.', what);
    end
    if isempty(list) || any(cellfun(@isempty, list(:)))
        error('w2v:badArgument', '%s must name at least one file and no empty names.', what);
    end
end
