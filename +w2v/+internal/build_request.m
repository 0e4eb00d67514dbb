function request = build_request(audioFiles, opts)
    %BUILD_REQUEST The backend's JSON request (struct) for parsed options.
    %   request = w2v.internal.build_request(audioFiles, opts). AUDIOFILES is a
    %   cell array of char; OPTS comes from w2v.internal.parse_options. Only the
    %   options present in OPTS are sent, so the backend's defaults apply to
    %   the rest. Relative paths (audio, OutputDir, CND, a Model folder that
    %   exists) are made absolute against the current folder.

    here = pwd();
    request = struct();
    request.audio = cellfun(@(f) w2v.internal.absolute_path(f, here), audioFiles(:)', ...
                            'UniformOutput', false);
    table = w2v.internal.option_table();
    for k = 1:size(table, 1)
        [name, key] = table{k, 1:2};
        if ~isempty(key) && isfield(opts, name)
            request.(key) = request_value(name, opts.(name), here);
        end
    end
    if ~isfield(request, 'cluster')
        % The submission options mean nothing without Cluster: never sent alone.
        clusterKeys = table(find(strcmp(table(:, 1), 'Cluster')):end, 2);
        request = rmfield(request, intersect(fieldnames(request), clusterKeys));
    end
end

function value = request_value(name, value, here)
    switch name
        case {'OutputDir', 'LogDir', 'CND'}
            value = w2v.internal.absolute_path(value, here);
        case 'Model'
            if isfolder(value)
                value = w2v.internal.absolute_path(value, here);
            end
        case {'ChunkSeconds', 'ContextSeconds', 'Threads', 'TargetRate', 'TR', 'GridStart', ...
              'Tasks', 'GpusPerNode', 'CpusPerTask', 'MemGB', 'TimeMin', 'ArrayParallelism', ...
              'CausalContext', 'CausalStep'}
            value = double(value);
        case 'Cluster'
            value = lower(value);
        case {'Overwrite', 'Quiet', 'Causal', 'Verify'}
            value = logical(value);
        case 'Segments'
            value = segments_value(value, here);
        case {'DType', 'Method', 'Edge'}
            value = lower(value);
        case 'Layers'
            value = layers_value(value);
        case 'MatVersion'
            if isnumeric(value)
                value = num2str(value);
            end
    end
end

function value = layers_value(layers)
    if ischar(layers)
        value = lower(strtrim(layers));
    else
        value = double(layers(:)');
    end
end

function value = segments_value(segments, here)
    % JSON the backend reads: a path, a list of [onset, offset] pairs, or a list
    % of objects with onset, offset (and label, condition).
    if w2v.internal.is_text(segments)
        value = w2v.internal.absolute_path(char(segments), here);
    elseif isnumeric(segments)
        value = num2cell(double(segments), 2)';
    elseif ~w2v.internal.is_octave() && istable(segments)
        value = table2struct(segments);
    else
        value = segments;
    end
end
