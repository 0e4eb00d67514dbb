function out = resample(source, fs, varargin)
    %RESAMPLE Bring w2v features onto the neural data's clock (any rate, frame centres).
    %   out = w2v.resample(result, fs)
    %   out = w2v.resample(pathOrBase, fs)
    %   out = w2v.resample(source, [], 'TR', seconds)
    %   out = w2v.resample(___, Name, Value)
    %
    %   Resamples every layer of one or more runs already on disk (no MATLAB
    %   toolbox needed; the Python backend does the signal processing). Frame k
    %   sits at its centre, time_axis(k) + frame_center_offset; output sample j
    %   is the band-limited value at GridStart + (j-1)/fs. Going down, an
    %   anti-aliasing low-pass (flat to 90 % of the lower Nyquist frequency,
    %   80 dB from it on); going up, band-limited interpolation. The output
    %   covers [GridStart, duration of the recording); beyond the recording the
    %   first/last frame is repeated ('Edge', 'edge') or zeros ('zeros').
    %
    %   Input
    %     source  a result struct (array) of w2v.extract / w2v.load, or the
    %             base path of a run (char, string, or a cell/string array of
    %             several)
    %     fs      double, Hz: target rate (e.g. 128); [] with 'TR'
    %
    %   Options (Name-Value)
    %     'TR'          seconds per fMRI volume; fs = 1/TR (default [])
    %     'GridStart'   s, time of the first output sample in the recording
    %                   (default 0, the recording's first sample)
    %     'NSamples'    output length (default [], samples in [GridStart, end))
    %     'Method'      'kaiser' (default, windowed sinc) or 'lanczos'
    %                   (normalised Lanczos-3, as used for fMRI TRs)
    %     'Edge'        'edge' (default) or 'zeros'
    %     'OutputDir'   folder for the outputs (default '': next to each run)
    %     'Suffix'      appended to the base name (default '': _<fs>Hz)
    %     'CND'         file name of a CND dataStim.mat to write as well, one
    %                   trial per run in input order (default '': none)
    %     'MatVersion'  'auto' (default), '5' or '7.3'
    %
    %   Output (struct array, one element per run; w2v.extract with TargetRate
    %   or TR returns the same features, feature_time, fs and resampling)
    %     features      [samples x hidden] single, or [samples x hidden x layers]
    %     feature_time  [samples x 1] double, s: GridStart + (0:samples-1)'/fs
    %     fs            double, Hz
    %     layers        [1 x layers] double;  model_name  char
    %     resampling    struct: method, filter, grid and edge rule (the spec)
    %     files         struct: npy, mat, json of the resampled outputs (char)
    %
    %   Example (w2v.extract(..., 'TargetRate', 128) does both steps in one)
    %     r = w2v.extract('story.wav', 'Layers', 12);
    %     x = w2v.resample(r, 128);
    %     model = mTRFtrain(x.features, eeg, x.fs, 1, -100, 400, 1e2);
    %
    %   See also w2v.extract, w2v.load.

    opts = parse(varargin);
    request = struct('inputs', {run_paths(source)}, 'grid_start', opts.GridStart, ...
                     'method', lower(opts.Method), 'edge', lower(opts.Edge), ...
                     'mat_version', version_text(opts.MatVersion));
    if ~isempty(fs) && ~(isnumeric(fs) && isscalar(fs) && isfinite(fs) && fs > 0)
        error('w2v:badArgument', 'fs must be a positive number of Hz.');
    elseif isempty(opts.TR) == isempty(fs)
        error('w2v:badArgument', 'Give fs (Hz) or the TR option (s), not both and not neither.');
    elseif isempty(opts.TR)
        request.target_rate = fs;
    else
        request.tr = opts.TR;
    end
    optional = {'NSamples', 'n_samples'; 'OutputDir', 'output_dir'; 'Suffix', 'suffix'; ...
                'CND', 'cnd'};
    for k = 1:size(optional, 1)
        if ~isempty(opts.(optional{k, 1}))
            request.(optional{k, 2}) = opts.(optional{k, 1});
        end
    end
    summary = w2v.internal.python_gateway('resample', request);
    out = collect(summary);
end

function opts = parse(args)
    number = @(x) isnumeric(x) && isscalar(x) && isfinite(x);
    optionalPositive = @(x) isempty(x) || (number(x) && x > 0);
    text = @(x) w2v.internal.is_text(x);
    oneOf = @(choices) @(x) text(x) && any(strcmpi(char(x), choices));
    parser = inputParser();
    parser.FunctionName = 'w2v.resample';
    parser.addParameter('TR', [], optionalPositive);
    parser.addParameter('GridStart', 0, number);
    parser.addParameter('NSamples', [], @(x) isempty(x) || (number(x) && x >= 1 && x == round(x)));
    parser.addParameter('Method', 'kaiser', oneOf({'kaiser', 'lanczos'}));
    parser.addParameter('Edge', 'edge', oneOf({'edge', 'zeros'}));
    parser.addParameter('OutputDir', '', text);
    parser.addParameter('Suffix', '', text);
    parser.addParameter('CND', '', text);
    parser.addParameter('MatVersion', 'auto', ...
                        @(x) any(strcmp(version_text(x), {'auto', '5', '7.3'})));
    try
        parser.parse(args{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    opts = parser.Results;
    for name = {'Method', 'Edge', 'OutputDir', 'Suffix', 'CND'}
        opts.(name{1}) = char(opts.(name{1}));
    end
end

function paths = run_paths(source)
    if isstruct(source)
        paths = arrayfun(@(r) r.files.npy, source(:)', 'UniformOutput', false);
    elseif iscell(source) || isstring(source)
        paths = cellstr(source);
        paths = paths(:)';
    elseif w2v.internal.is_text(source)
        paths = {char(source)};
    else
        error('w2v:badArgument', 'source must be a result struct or the path of a run.');
    end
    if isempty(paths) || any(cellfun(@isempty, paths))
        error('w2v:badArgument', 'source names no run (a result without files.npy?).');
    end
end

function out = collect(summary)
    entries = summary.files;
    if isstruct(entries)
        entries = num2cell(entries(:))';
    end
    failed = cellfun(@(e) ~strcmp(e.status, 'written'), entries);
    if any(failed)
        bad = entries(find(failed, 1));
        error('w2v:resampleFailed', '%s: %s', bad{1}.input, bad{1}.error);
    end
    out = struct('features', {}, 'feature_time', {}, 'fs', {}, 'layers', {}, ...
                 'model_name', {}, 'resampling', {}, 'files', {});
    for k = 1:numel(entries)
        out(k) = w2v.internal.read_resampled(entries{k}.json);
    end
end

function text = version_text(value)
    if isnumeric(value) && isscalar(value)
        text = sprintf('%g', value);
    elseif w2v.internal.is_text(value)
        text = char(value);
    else
        text = '';
    end
end
