function table = option_table()
    %OPTION_TABLE Every Name-Value option of w2v.extract and w2v.B2_model_wav2vec2.
    %   table = w2v.internal.option_table() is an n x 4 cell array, one row per
    %   option: {Name, requestKey, validator, matlabDefault}.
    %     Name           the option as users spell it
    %     requestKey     its key in the backend's JSON request, or '' for an
    %                    option that MATLAB handles itself
    %     validator      handle returning a logical scalar
    %     matlabDefault  the default of a MATLAB-side option; [] for backend
    %                    options: an option left unset (or set to []) is not
    %                    sent, so the backend's own default applies. The
    %                    backend's defaults are the only ones.
    %   The conversion of a value for the request is w2v.internal.build_request's.
    %   A new option is one row here (and its conversion and help text).

    table = { ...
             'OutputDir', 'output_dir', @is_name, []
             'BaseName', 'basename', @is_name, []
             'Model', 'model', @is_name, []
             'Device', 'device', @is_name, []
             'ChunkSeconds', 'chunk_seconds', @is_positive_number, []
             'ContextSeconds', 'context_seconds', @is_optional_seconds, []
             'Layers', 'layers', @valid_layers, []
             'DType', 'dtype', @(x) is_one_of(x, {'float32', 'float16', 'bfloat16'}), []
             'Overwrite', 'overwrite', @is_flag, []
             'MatVersion', 'mat_version', @valid_mat_version, []
             'Revision', 'revision', @(x) isempty(x) || w2v.internal.is_text(x), []
             'Threads', 'threads', @is_optional_count, []
             'Quiet', 'quiet', @is_flag, []
             'TargetRate', 'target_rate', @is_optional_positive, []
             'TR', 'tr', @is_optional_positive, []
             'GridStart', 'grid_start', @is_optional_number, []
             'Method', 'method', @(x) is_one_of(x, {'kaiser', 'lanczos'}), []
             'Edge', 'edge', @(x) is_one_of(x, {'edge', 'zeros'}), []
             'CND', 'cnd', @is_name, []
             'Segments', 'segments', @valid_segments, []
             'Causal', 'causal', @is_flag, []
             'CausalContext', 'causal_context', @is_optional_seconds, []
             'CausalStep', 'causal_step', @is_positive_number, []
             'Verify', 'verify', @is_flag, []
             'OnError', '', @(x) is_one_of(x, {'error', 'continue'}), 'error'
             'LoadResults', '', @is_flag, true
             % SLURM submission: sent only together with Cluster (build_request).
             'Cluster', 'cluster', @(x) is_one_of(x, {'slurm'}), []
             'Tasks', 'tasks', @(x) is_count(x, 1), []
             'Partition', 'partition', @is_name, []
             'GpusPerNode', 'gpus_per_node', @(x) is_count(x, 0), []
             'CpusPerTask', 'cpus_per_task', @(x) is_count(x, 1), []
             'MemGB', 'mem_gb', @is_positive_number, []
             'TimeMin', 'time_min', @(x) is_count(x, 1), []
             'ArrayParallelism', 'array_parallelism', @(x) is_count(x, 1), []
             'Sbatch', 'sbatch', @(x) (isstruct(x) && isscalar(x)) || iscellstr(x), []
             'LogDir', 'log_dir', @is_name, []
            };
end

function tf = is_name(x)
    tf = w2v.internal.is_text(x) && numel(char(x)) > 0;
end

function tf = is_positive_number(x)
    tf = isnumeric(x) && isscalar(x) && isfinite(x) && x > 0;
end

function tf = is_optional_positive(x)
    tf = isempty(x) || is_positive_number(x);
end

function tf = is_optional_number(x)
    tf = isempty(x) || (isnumeric(x) && isscalar(x) && isfinite(x));
end

function tf = is_optional_seconds(x)
    tf = isempty(x) || (isnumeric(x) && isscalar(x) && isfinite(x) && x >= 0);
end

function tf = is_optional_count(x)
    tf = isempty(x) || (isnumeric(x) && isscalar(x) && x >= 1 && x == round(x));
end

function tf = is_count(x, lowest)
    tf = isnumeric(x) && isscalar(x) && x >= lowest && x == round(x);
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

function tf = valid_segments(x)
    % [n x 2] onsets and offsets (s), a table or struct array with onset/offset
    % (and label/condition), or the path of a TSV/CSV table.
    tf = w2v.internal.is_text(x) || isstruct(x) || is_table(x) || ...
         (isnumeric(x) && ismatrix(x) && size(x, 2) == 2 && all(isfinite(x(:))));
end

function tf = valid_mat_version(x)
    if isnumeric(x) && isscalar(x)
        x = num2str(x);
    end
    tf = w2v.internal.is_text(x) && any(strcmp(char(x), {'auto', '5', '7.3'}));
end

function tf = is_table(x)
    % Octave has no table class.
    tf = ~w2v.internal.is_octave() && istable(x);
end
