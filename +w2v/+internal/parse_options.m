function opts = parse_options(functionName, defaults, args)
    %PARSE_OPTIONS Parse Name-Value arguments against DEFAULTS with inputParser.
    %   opts = w2v.internal.parse_options(functionName, defaults, args) returns
    %   a struct with one field per field of DEFAULTS (text values as char).
    %   ARGS is the cell array of Name-Value arguments. Invalid values raise
    %   w2v:badArgument naming the option.

    parser = inputParser();
    parser.FunctionName = functionName;
    names = fieldnames(defaults);
    for k = 1:numel(names)
        parser.addParameter(names{k}, defaults.(names{k}), validator(names{k}));
    end
    try
        parser.parse(args{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    opts = parser.Results;
    for k = 1:numel(names)
        % A string array (several files) stays as it is: text_list takes it.
        if isstring(opts.(names{k})) && isscalar(opts.(names{k}))
            opts.(names{k}) = char(opts.(names{k}));
        end
    end
end

function check = validator(name)
    [~, clusterChecks] = w2v.internal.cluster_options();
    if isfield(clusterChecks, name)
        check = clusterChecks.(name);
        return
    end
    checks = struct('AudioFile', @is_file_list, ...
                    'OutputDir', @is_name, 'BaseName', @is_name, ...
                    'Model', @is_name, 'Device', @is_name, ...
                    'ChunkSeconds', @is_positive_number, ...
                    'ContextSeconds', @is_optional_seconds, ...
                    'Layers', @valid_layers, ...
                    'DType', @(x) is_one_of(x, {'float32', 'float16', 'bfloat16'}), ...
                    'Overwrite', @is_flag, 'Quiet', @is_flag, 'LoadResults', @is_flag, ...
                    'MatVersion', @(x) any(strcmp(mat_version_text(x), {'auto', '5', '7.3'})), ...
                    'Revision', @(x) isempty(x) || w2v.internal.is_text(x), ...
                    'Threads', @is_optional_count, ...
                    'OnError', @(x) is_one_of(x, {'error', 'continue'}));
    check = checks.(name);
end

function tf = is_file_list(x)
    tf = w2v.internal.is_text(x) || iscellstr(x) || isstring(x);
end

function tf = is_name(x)
    tf = w2v.internal.is_text(x) && numel(char(x)) > 0;
end

function tf = is_positive_number(x)
    tf = isnumeric(x) && isscalar(x) && isfinite(x) && x > 0;
end

function tf = is_optional_seconds(x)
    tf = isempty(x) || (isnumeric(x) && isscalar(x) && isfinite(x) && x >= 0);
end

function tf = is_optional_count(x)
    tf = isempty(x) || (isnumeric(x) && isscalar(x) && x >= 1 && x == round(x));
end

function tf = is_flag(x)
    tf = (islogical(x) || isnumeric(x)) && isscalar(x);
end

function tf = is_one_of(x, choices)
    tf = w2v.internal.is_text(x) && any(strcmpi(char(x), choices));
end

function tf = valid_layers(x)
    if w2v.internal.is_text(x)
        tf = ~isempty(regexp(char(x), '^(last|all|-?\d+(\s*,\s*-?\d+)*)$', 'once'));
    else
        tf = isnumeric(x) && ~isempty(x) && isvector(x) && all(x == round(x));
    end
end

function textValue = mat_version_text(x)
    %MAT_VERSION_TEXT 'auto', '5' or '7.3' for char, string or numeric input.
    if isnumeric(x) && isscalar(x)
        textValue = num2str(x);
    elseif w2v.internal.is_text(x)
        textValue = char(x);
    else
        textValue = '';
    end
end
