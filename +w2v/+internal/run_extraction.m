function results = run_extraction(audioFiles, opts)
    %RUN_EXTRACTION Run the backend on AUDIOFILES and read the outputs back.
    %   results = w2v.internal.run_extraction(audioFiles, opts): AUDIOFILES is a
    %   cell array of char, OPTS the parsed options (see parse_options).
    %   Returns a struct array with the size of AUDIOFILES (see w2v.extract).
    %   With OnError 'error' the first failed file raises w2v:<code> carrying
    %   the backend's one-line message; with 'continue' failed files come back
    %   with status 'failed' and their error, after one w2v:filesFailed warning.

    request = w2v.internal.build_request(audioFiles, opts);
    summary = w2v.internal.python_gateway('extract', request);
    check_version(summary);
    if isfield(summary, 'error') && isstruct(summary.error)
        % A run-level failure (bad request, interrupted): no per-file results.
        raise_backend_error(summary.error, '');
    end
    entries = summary_entries(summary);
    if numel(entries) ~= numel(audioFiles)
        error('w2v:backendFailed', ...
              'The backend reported %d files for a request of %d.', ...
              numel(entries), numel(audioFiles));
    end
    failed = cellfun(@(e) strcmp(e.status, 'failed'), entries);
    if any(failed) && strcmpi(opts.OnError, 'error')
        first = entries{find(failed, 1)};
        note = '';
        if numel(entries) > 1
            note = sprintf(' (%d of %d files failed; the others are done)', ...
                           nnz(failed), numel(entries));
        end
        raise_backend_error(first.error, note);
    elseif any(failed)
        warning('w2v:filesFailed', '%d of %d files failed; see the error field of the result.', ...
                nnz(failed), numel(entries));
    end
    results = repmat(w2v.internal.empty_result(), size(audioFiles));
    for k = 1:numel(entries)
        results(k) = one_result(entries{k}, request.audio{k}, opts.LoadResults);
    end
end

function entries = summary_entries(summary)
    % jsondecode gives a struct array when all entries have the same fields,
    % else a cell array; both become a cell array of structs here.
    entries = {};
    if isfield(summary, 'files') && isstruct(summary.files)
        entries = num2cell(summary.files(:))';
    elseif isfield(summary, 'files') && iscell(summary.files)
        entries = summary.files(:)';
    end
end

function result = one_result(entry, audioFile, loadResults)
    result = w2v.internal.empty_result();
    if loadResults && ~strcmp(entry.status, 'failed')
        result = w2v.load(entry.outputs.npy);
    elseif isfield(entry, 'outputs') && isstruct(entry.outputs)
        result.files = output_files(entry.outputs);
    end
    result = with_resampled(result, entry, loadResults);
    result.audio_file = audioFile;
    result.status = entry.status;
    if strcmp(entry.status, 'failed')
        result.error = entry.error;
    end
end

function result = with_resampled(result, entry, loadResults)
    % The resampled set of TargetRate/TR: its files, and with LoadResults its features.
    if ~isfield(entry, 'outputs') || ~isstruct(entry.outputs) || ...
            ~isfield(entry.outputs, 'resampled') || ~isstruct(entry.outputs.resampled)
        return
    end
    resampled = entry.outputs.resampled;
    result.resampled_files = output_files(resampled);
    if loadResults && ~strcmp(entry.status, 'failed')
        x = w2v.internal.read_resampled(resampled.json);
        result.features = x.features;
        result.feature_time = x.feature_time;
        result.fs = x.fs;
        result.resampling = x.resampling;
    end
end

function files = output_files(outputs)
    files = struct('mat', '', 'npy', '', 'json', '');
    names = fieldnames(files);
    for k = 1:numel(names)
        if isfield(outputs, names{k}) && ischar(outputs.(names{k}))
            files.(names{k}) = outputs.(names{k});
        end
    end
end

function raise_backend_error(problem, note)
    code = 'backendFailed';
    message = 'The backend failed without a message.';
    if isstruct(problem) && isfield(problem, 'code') && ischar(problem.code) && ...
            ~isempty(regexp(problem.code, '^[A-Za-z]\w*$', 'once'))
        code = problem.code;
    end
    if isstruct(problem) && isfield(problem, 'message') && ischar(problem.message)
        message = problem.message;
    end
    error(['w2v:' code], '%s', [message note]);
end

function check_version(summary)
    if isfield(summary, 'version') && ischar(summary.version) && ...
            ~strcmp(summary.version, w2v.version())
        warning('w2v:versionMismatch', ...
                ['The Python backend is version %s but the MATLAB toolbox is %s; ' ...
                 'run w2v.setup().'], ...
                summary.version, w2v.version());
    end
end
