function result = read_npy_output(file, metadata)
    %READ_NPY_OUTPUT Build the result struct from a .npy file and its metadata.
    %   result = w2v.internal.read_npy_output(file, metadata) is used when no
    %   .mat file exists. METADATA is the decoded .json (struct). The .npy holds
    %   (frames, hidden) or (layers, frames, hidden) float32, C order.

    data = w2v.internal.read_npy(file);
    if ndims(data) == 3
        data = permute(data, [2 3 1]);            % -> [frames x hidden x layers]
    end
    result = w2v.internal.empty_result();
    result.embeddings = single(data);
    result.model_name = model_name(metadata);
    result.sample_rate = double(meta(metadata, {'sample_rate'}, []));
    result.frame_stride = double(meta(metadata, {'frame_stride', 'frame_stride_s'}, []));
    result.layers = double(reshape(meta(metadata, {'layers'}, zeros(1, 0)), 1, []));
    result.receptive_field = double(meta(metadata, {'receptive_field', 'receptive_field_s'}, []));
    result.frame_center_offset = double(meta(metadata, ...
                                             {'frame_center_offset', 'frame_center_offset_s'}, []));
    stride = meta(metadata, {'stride_samples', 'frame_stride_samples'}, []);
    frames = (0:size(data, 1) - 1)';
    if ~isempty(stride) && ~isempty(result.sample_rate)
        result.time_axis = frames * double(stride) / result.sample_rate;
    else
        result.time_axis = frames * result.frame_stride;
    end
end

function name = model_name(metadata)
    % The .json holds the model as a struct (name, revision, ...).
    name = meta(metadata, {'model_name', 'model'}, '');
    if isstruct(name)
        name = meta(name, {'name'}, '');
    end
    name = char(name);
end

function value = meta(metadata, names, default)
    value = default;
    for k = 1:numel(names)
        if isfield(metadata, names{k}) && ~isempty(metadata.(names{k}))
            value = metadata.(names{k});
            return
        end
    end
end
