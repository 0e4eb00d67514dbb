function out = read_resampled(jsonFile)
    %READ_RESAMPLED Read one resampled set (B_<fs>Hz.npy + .json) into a struct.
    %   out = w2v.internal.read_resampled(jsonFile) returns the fields that
    %   w2v.resample returns and w2v.extract adds with TargetRate or TR:
    %     features      [samples x hidden] single, or [samples x hidden x layers]
    %     feature_time  [samples x 1] double, s: GridStart + (0:samples-1)'/fs
    %     fs            double, Hz
    %     layers        [1 x layers] double;  model_name  char
    %     resampling    struct: the resampling spec of the .json
    %     files         struct: npy, mat, json (char; mat '' when not written)
    %   Errors: w2v:outputNotFound, w2v:outputInvalid, w2v:npyUnreadable.

    if ~isfile(jsonFile)
        error('w2v:outputNotFound', 'No resampled features at %s.', jsonFile);
    end
    doc = jsondecode(w2v.internal.read_text(jsonFile));
    if ~isfield(doc, 'format') || ~strcmp(doc.format, 'w2v-resampled-features')
        error('w2v:outputInvalid', '%s does not describe resampled w2v features.', jsonFile);
    end
    spec = doc.resampling;
    data = w2v.internal.read_npy(doc.outputs.npy);
    if ndims(data) == 3
        data = permute(data, [2 3 1]);        % -> [samples x hidden x layers]
    end
    n = size(data, 1);
    if n ~= spec.n_samples
        error('w2v:outputInvalid', '%s holds %d samples; its .json says %d.', ...
              doc.outputs.npy, n, spec.n_samples);
    end
    files = struct('npy', doc.outputs.npy, 'mat', text_or_empty(doc.outputs.mat), ...
                   'json', jsonFile);
    out = struct('features', single(data), ...
                 'feature_time', spec.grid_start + (0:n - 1)' / spec.target_rate, ...
                 'fs', spec.target_rate, ...
                 'layers', double(reshape(doc.source.layers, 1, [])), ...
                 'model_name', char(doc.source.model), 'resampling', spec, 'files', files);
end

function text = text_or_empty(value)
    if ischar(value)
        text = value;
    else
        text = '';
    end
end
