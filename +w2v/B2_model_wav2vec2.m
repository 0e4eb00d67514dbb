function result = B2_model_wav2vec2(varargin)
    %B2_MODEL_WAV2VEC2 The lab's pipeline step: wav2vec2 embeddings of the stimulus.
    %   result = w2v.B2_model_wav2vec2()
    %   result = w2v.B2_model_wav2vec2(Name, Value, ...)
    %
    %   Changes to ProjectRoot (by default the repository root, the folder
    %   holding +w2v), runs the Python backend on
    %   data/Stimuli/Audio/audio_original_merged.wav and writes
    %   Models/wav2vec2/wav2vec2_embeddings.npy/.mat/.json there, and returns
    %   the result read back. The caller's folder is restored afterwards, also
    %   when an error occurs. Relative paths (AudioFile, OutputDir, a Model
    %   folder) are taken from ProjectRoot, as in the original workflow. An
    %   installed toolbox (an .mltbx: it ships without the tests folder) or a
    %   read-only one is never written to: ProjectRoot is then the current
    %   folder.
    %
    %   Output
    %     result  struct, see w2v.extract / w2v.load: embeddings
    %             [frames x hidden] single (or [frames x hidden x layers]),
    %             time_axis [frames x 1] double s, model_name, sample_rate Hz,
    %             frame_stride s, layers, receptive_field s, frame_center_offset
    %             s, metadata (struct), files, audio_file, status, error.
    %
    %   Name-Value options (defaults in brackets)
    %     ProjectRoot     folder the relative paths are taken from [the
    %                     repository root of a writable checkout, else pwd()]
    %     AudioFile       recording(s) ['data/Stimuli/Audio/audio_original_merged.wav']
    %     OutputDir       output folder ['Models/wav2vec2']
    %     BaseName        output base name ['wav2vec2_embeddings']
    %     Model           hub id or checkpoint folder ['facebook/wav2vec2-large-xlsr-53']
    %     Device          'auto' | 'cpu' | 'cuda' | 'mps' ['auto']
    %     ChunkSeconds    audio per forward pass, s [20]
    %     ContextSeconds  real audio on each side of a chunk, s [0.5]
    %     Layers          'last' | 'all' | vector of layer indices ['last']
    %     DType           'float32' | 'float16' | 'bfloat16' ['float32']
    %     Overwrite       recompute up-to-date outputs [false]
    %     The other options of w2v.extract (MatVersion, Revision, Threads,
    %     Quiet, OnError, LoadResults; Segments, Causal, CausalContext,
    %     CausalStep, Verify; TargetRate, TR, GridStart, Method, Edge,
    %     CND for features on the neural clock; and for SLURM submission
    %     Cluster, Tasks, Partition, GpusPerNode, CpusPerTask, MemGB, TimeMin,
    %     ArrayParallelism, Sbatch, LogDir) are accepted too; defaults as there.
    %
    %   Errors as w2v.extract; w2v:audioNotFound and w2v:outputFailed also
    %   name the options that fix them (AudioFile, OutputDir, ProjectRoot).
    %
    %   Example
    %     r = w2v.B2_model_wav2vec2('Device', 'cpu');
    %     fprintf('%d frames of %d features, %.3f s apart\n', ...
    %             size(r.embeddings, 1), size(r.embeddings, 2), r.frame_stride);
    %
    %   See also w2v.extract, w2v.load, w2v.setup, w2v.doctor.

    % The pipeline's own defaults (the lab's layout), relative to ProjectRoot.
    stimulus = fullfile('data', 'Stimuli', 'Audio', 'audio_original_merged.wav');
    own = {'AudioFile', @is_file_list, stimulus
           'ProjectRoot', @(x) isempty(x) || w2v.internal.is_text(x), ''
           'OutputDir', @(x) w2v.internal.is_text(x) && ~isempty(x), fullfile('Models', 'wav2vec2')
          };
    opts = w2v.internal.parse_options('w2v.B2_model_wav2vec2', varargin, own);
    files = w2v.internal.text_list(opts.AudioFile, 'AudioFile');
    root = project_root(opts.ProjectRoot);
    opts = rmfield(opts, {'AudioFile', 'ProjectRoot'});

    callerFolder = pwd();
    restoreFolder = onCleanup(@() w2v.internal.quiet_cd(callerFolder));
    w2v.internal.quiet_cd(root);
    try
        result = w2v.internal.run_extraction(files, opts);
    catch err
        rethrow_naming_options(err, root);
    end
end

function root = project_root(given)
    if ~isempty(given)
        root = w2v.internal.absolute_path(given, pwd());
        if ~isfolder(root)
            error('w2v:badArgument', 'ProjectRoot %s is not a folder.', root);
        end
        return
    end
    % A checkout has the repository's tests folder, which an .mltbx does not ship.
    root = w2v.internal.toolbox_root();
    if ~isfolder(fullfile(root, 'tests')) || ~w2v.internal.is_writable(root)
        root = pwd();
    end
end

function rethrow_naming_options(err, root)
    hints = struct('w2v_audioNotFound', 'AudioFile', 'w2v_outputFailed', 'OutputDir');
    key = strrep(err.identifier, ':', '_');
    if ~isfield(hints, key)
        rethrow(err);
    end
    error(err.identifier, ['%s\n(w2v.B2_model_wav2vec2: set ''%s'' to the right path, or ' ...
                           '''ProjectRoot'' to the folder relative paths are taken from; ' ...
                           'now %s)'], err.message, hints.(key), root);
end

function tf = is_file_list(x)
    tf = w2v.internal.is_text(x) || iscellstr(x) || isstring(x);
end
