function request = build_request(audioFiles, opts)
    %BUILD_REQUEST The backend's JSON request (struct) for parsed options.
    %   request = w2v.internal.build_request(audioFiles, opts). AUDIOFILES is a
    %   cell array of char; relative paths, like OutputDir and a Model folder
    %   that exists, are made absolute against the current folder. Empty
    %   optional values are left out, so the backend's defaults apply.

    here = pwd();
    request = struct();
    request.audio = cellfun(@(f) w2v.internal.absolute_path(f, here), audioFiles(:)', ...
                            'UniformOutput', false);
    request.output_dir = w2v.internal.absolute_path(opts.OutputDir, here);
    request.basename = opts.BaseName;
    request.model = opts.Model;
    if isfolder(opts.Model)
        request.model = w2v.internal.absolute_path(opts.Model, here);
    end
    request.device = opts.Device;
    request.chunk_seconds = double(opts.ChunkSeconds);
    if ~isempty(opts.ContextSeconds)
        request.context_seconds = double(opts.ContextSeconds);
    end
    request.layers = layers_value(opts.Layers);
    request.dtype = lower(opts.DType);
    if ~isempty(opts.Revision)
        request.revision = opts.Revision;
    end
    request.overwrite = logical(opts.Overwrite);
    request.mat_version = mat_version(opts.MatVersion);
    if ~isempty(opts.Threads)
        request.threads = double(opts.Threads);
    end
    request.quiet = logical(opts.Quiet);
    request = w2v.internal.cluster_request(request, opts);
end

function value = layers_value(layers)
    if ischar(layers)
        value = lower(strtrim(layers));
    else
        value = double(layers(:)');
    end
end

function value = mat_version(x)
    if isnumeric(x)
        value = num2str(x);
    else
        value = char(x);
    end
end
