function result = read_mat_output(file)
    %READ_MAT_OUTPUT Read a w2v .mat file (v5 or v7.3) into the result struct.
    %   result = w2v.internal.read_mat_output(file) returns empty_result() with
    %   the numeric and name fields filled, each in the class w2v.load promises.

    stored = load(file);
    required = {'embeddings', 'time_axis', 'model_name', 'sample_rate', 'frame_stride'};
    missing = required(~isfield(stored, required));
    if ~isempty(missing)
        error('w2v:outputInvalid', '%s lacks the variable(s) %s.', file, strjoin(missing, ', '));
    end
    result = w2v.internal.empty_result();
    % Octave's HDF5 loader returns v7.3 data as double and char as numbers;
    % the casts below restore the classes (exactly: single -> double -> single).
    result.embeddings = single(stored.embeddings);
    result.time_axis = double(stored.time_axis(:));
    result.model_name = as_char(stored.model_name);
    result.sample_rate = double(stored.sample_rate);
    result.frame_stride = double(stored.frame_stride);
    result.layers = double(field_or(stored, 'layers', zeros(1, 0)));
    result.layers = result.layers(:)';
    result.receptive_field = double(field_or(stored, 'receptive_field', []));
    result.frame_center_offset = double(field_or(stored, 'frame_center_offset', []));
end

function value = field_or(stored, name, default)
    value = default;
    if isfield(stored, name)
        value = stored.(name);
    end
end

function text = as_char(value)
    if iscell(value)
        value = value{1};
    end
    if isnumeric(value)
        value = char(value(:)');
    end
    text = char(value);
    text = text(:)';
end
