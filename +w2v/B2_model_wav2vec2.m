function result = B2_model_wav2vec2(varargin)
    %B2_MODEL_WAV2VEC2 The lab's pipeline step: wav2vec2 embeddings of the stimulus.
    %   result = w2v.B2_model_wav2vec2()
    %   result = w2v.B2_model_wav2vec2(Name, Value, ...)
    %
    %   Changes to the repository root (the folder holding +w2v), points
    %   pyenv at the repository's .venv (MATLAB; out of process; W2V_VENV
    %   overrides the location), runs the Python backend on
    %   data/Stimuli/Audio/audio_original_merged.wav, writes
    %   Models/wav2vec2/wav2vec2_embeddings.npy/.mat/.json and returns the
    %   result read back. The caller's folder is restored afterwards, also when
    %   an error occurs. Relative paths (AudioFile, OutputDir, a Model folder)
    %   are taken from the repository root, as in the original workflow.
    %
    %   Output
    %     result  struct, see w2v.extract / w2v.load: embeddings
    %             [frames x hidden] single (or [frames x hidden x layers]),
    %             time_axis [frames x 1] double s, model_name, sample_rate Hz,
    %             frame_stride s, layers, receptive_field s, frame_center_offset
    %             s, metadata (struct), files, audio_file, status, error.
    %
    %   Name-Value options (defaults in brackets)
    %     AudioFile       recording(s) ['data/Stimuli/Audio/audio_original_merged.wav']
    %     OutputDir       output folder ['Models/wav2vec2']
    %     BaseName        output base name ['wav2vec2_embeddings']
    %     Model           hub id or checkpoint folder ['facebook/wav2vec2-large-xlsr-53']
    %     Device          'auto' | 'cpu' | 'cuda' | 'mps' ['auto']
    %     ChunkSeconds    audio per forward pass, s [20]
    %     ContextSeconds  context on each side of a chunk, s [[] = backend default]
    %     Layers          'last' | 'all' | vector of layer indices ['last']
    %     DType           'float32' | 'float16' | 'bfloat16' ['float32']
    %     Overwrite       recompute up-to-date outputs [false]
    %     The other options of w2v.extract (MatVersion, Revision, Threads,
    %     Quiet, OnError, LoadResults, and for SLURM submission Cluster, Tasks,
    %     Partition, GpusPerNode, CpusPerTask, MemGB, TimeMin,
    %     ArrayParallelism, Sbatch, LogDir) are accepted too.
    %
    %   Example
    %     r = w2v.B2_model_wav2vec2('Device', 'cpu');
    %     fprintf('%d frames of %d features, %.3f s apart\n', ...
    %             size(r.embeddings, 1), size(r.embeddings, 2), r.frame_stride);
    %
    %   See also w2v.extract, w2v.load, w2v.setup.

    defaults = w2v.internal.default_options();
    defaults.AudioFile = fullfile('data', 'Stimuli', 'Audio', 'audio_original_merged.wav');
    defaults.OutputDir = fullfile('Models', 'wav2vec2');
    opts = w2v.internal.parse_options('w2v.B2_model_wav2vec2', defaults, varargin);
    files = w2v.internal.text_list(opts.AudioFile, 'AudioFile');
    opts = rmfield(opts, 'AudioFile');

    callerFolder = pwd();
    restoreFolder = onCleanup(@() cd(callerFolder));
    cd(w2v.internal.toolbox_root());
    result = w2v.internal.run_extraction(files, opts);
end
