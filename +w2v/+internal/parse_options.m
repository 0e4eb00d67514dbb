function opts = parse_options(functionName, args, extra)
    %PARSE_OPTIONS Parse Name-Value arguments against w2v.internal.option_table.
    %   opts = w2v.internal.parse_options(functionName, args) returns a struct
    %   holding the MATLAB-side options (with their defaults) and only those
    %   backend options the caller set to a non-empty value (text as char).
    %   opts = w2v.internal.parse_options(functionName, args, extra) also
    %   accepts the options of EXTRA, an m x 3 cell {Name, validator, default}
    %   (a caller's own options, e.g. AudioFile); a default given there for an
    %   option of the table replaces the table's. ARGS is the cell array of
    %   Name-Value arguments. Invalid values raise w2v:badArgument naming the
    %   option.

    if nargin < 3
        extra = cell(0, 3);
    end
    table = w2v.internal.option_table();
    parser = inputParser();
    parser.FunctionName = functionName;
    for k = 1:size(table, 1)
        default = table{k, 4};
        row = find(strcmp(extra(:, 1), table{k, 1}), 1);
        if ~isempty(row)
            default = extra{row, 3};
        end
        parser.addParameter(table{k, 1}, default, table{k, 3});
    end
    own = extra(~ismember(extra(:, 1), table(:, 1)), :);
    for k = 1:size(own, 1)
        parser.addParameter(own{k, 1}, own{k, 3}, own{k, 2});
    end
    try
        parser.parse(args{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    opts = parser.Results;
    names = fieldnames(opts);
    for k = 1:numel(names)
        value = opts.(names{k});
        isBackend = any(strcmp(table(:, 1), names{k}) & ~cellfun(@isempty, table(:, 2)));
        if isBackend && isempty(value)
            opts = rmfield(opts, names{k});
        elseif isstring(value) && isscalar(value)
            % A string array (several files) stays as it is: text_list takes it.
            opts.(names{k}) = char(value);
        end
    end
end
