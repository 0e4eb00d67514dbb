function result = extract(audioFiles, varargin)
    %EXTRACT wav2vec2-family embeddings of recordings, with an exact time axis.
    %   result = w2v.extract(audioFile)
    %   result = w2v.extract(audioFiles)
    %   result = w2v.extract(___, Name, Value)
    %
    %   Runs the Python backend (in the environment made by w2v.setup) once for
    %   all files: the model is loaded once, each recording is processed in
    %   chunks with context, and <BaseName>.npy/.mat/.json are written to
    %   OutputDir. Progress is printed while it runs. Outputs that are already
    %   up to date are not computed again (see Overwrite).
    %
    %   Input
    %     audioFiles  char row, string array or cell array of char: one or more
    %                 audio files (WAV, FLAC, OGG, MP3, AIFF, ...); relative paths
    %                 are taken from the current folder
    %
    %   Output
    %     result      struct (one file) or struct array with the size of
    %                 audioFiles. Fields as returned by w2v.load (embeddings
    %                 [frames x hidden] or [frames x hidden x layers] single,
    %                 time_axis [frames x 1] double s, model_name, sample_rate Hz,
    %                 frame_stride s, layers, receptive_field s,
    %                 frame_center_offset s, metadata, files) plus
    %                 audio_file (char, absolute path), status ('written',
    %                 'up_to_date' or 'failed') and error ([] or struct with
    %                 code and message). With TargetRate or TR (else empty),
    %                 as w2v.resample returns them: features [samples x hidden
    %                 (x layers)] single on the neural clock, feature_time
    %                 [samples x 1] double s (GridStart + (0:samples-1)'/fs,
    %                 covering [GridStart, duration)), fs Hz, resampling (the
    %                 spec), resampled_files (<BaseName>_<fs>Hz.mat/.npy/.json;
    %                 the .mat in mTRF-Toolbox layout: stim, t, fs).
    %
    %   Name-Value options (defaults in brackets; an option left out, or set to
    %   [], is not sent, and the backend's default applies)
    %     OutputDir       folder for the outputs ['.']
    %     BaseName        output base name ['wav2vec2_embeddings']; with several
    %                     files each gets '<file name>_<BaseName>'
    %     Model           hub id or local checkpoint folder
    %                     ['facebook/wav2vec2-large-xlsr-53']
    %     Device          'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' ['auto']
    %     ChunkSeconds    audio per forward pass, s [20]
    %     ContextSeconds  real audio added on each side of a chunk for the
    %                     transformer's attention, s [0.5]
    %     Layers          'last' | 'all' | vector of hidden-state indices,
    %                     negative counts from the end (e.g. [6 12 -1]) ['last']
    %     DType           'float32' | 'float16' | 'bfloat16' ['float32']
    %     Overwrite       recompute even when outputs are up to date [false]
    %     MatVersion      'auto' | '5' | '7.3' (also numeric 5 or 7.3); 'auto'
    %                     writes v5 up to 128 MiB of embeddings, else v7.3
    %                     ['auto']
    %     Revision        hub revision (branch, tag or commit) [[] = the hub's
    %                     default branch]
    %     Threads         CPU threads for torch [[] = torch's choice]
    %     Quiet           no progress output [false]
    %     TargetRate      Hz: also resample the features (anti-aliased, frame
    %                     centres) to this rate, see w2v.resample [[] = none]
    %     TR              s, fMRI: one sample per TR, instead of TargetRate [[]]
    %     GridStart       s, time of the first resampled sample [0]
    %     Method          'kaiser' (windowed sinc) | 'lanczos' ['kaiser']
    %     Edge            beyond the recording: 'edge' | 'zeros' ['edge']
    %     CND             CNSP/CND dataStim.mat to write, one trial per file in
    %                     input order; needs TargetRate or TR ['' = none]
    %     Segments        trials/blocks computed each as its own recording:
    %                     [n x 2] onsets and offsets (s), a table or struct
    %                     array (onset, offset, label, condition), or a TSV/CSV
    %                     file; frames keep their time in the recording [[]]
    %     Causal          each frame from past audio only [false]
    %     CausalContext   with Causal: s of past audio per window [8]
    %     CausalStep      with Causal: s of frames kept per window [0.1]
    %     Verify          compare the frames around one cut with a single
    %                     pass; figures in metadata.fidelity [false]
    %     OnError         'error': the first failed file raises w2v:<code> with
    %                     the backend's message; 'continue': failed files come
    %                     back with status 'failed' and a warning ['error']
    %     LoadResults     read the outputs back into the struct; false returns
    %                     only paths and status (saves memory for long lists)
    %                     [true]
    %
    %   SLURM submission (one job array over the files, through submitit; the
    %   call waits for it and shows each file as it completes; see the README
    %   section "Many stimuli on a cluster"). Defaults in brackets; [] or ''
    %   = the cluster's default.
    %     Cluster           '' (run here) | 'slurm' ['']
    %     Tasks             number of array tasks [one per file, at most 16]
    %     Partition         partition ['']
    %     GpusPerNode       GPUs per task [[]]
    %     CpusPerTask       CPU cores per task [[]]
    %     MemGB             memory per task, GB [[]]
    %     TimeMin           time limit per task, minutes [60]
    %     ArrayParallelism  at most this many tasks at once [[] = all]
    %     Sbatch            other sbatch options: cell of 'KEY=VALUE' (e.g.
    %                       {'account=lab', 'qos=high'}) or a struct [{}]
    %     LogDir            job scripts, logs and state file, visible from the
    %                       compute nodes ['' = <OutputDir>/w2v-slurm]
    %
    %   Errors (identifiers): w2v:venvMissing (run w2v.setup), w2v:audioNotFound,
    %   w2v:audioInvalid, w2v:audioTooShort, w2v:modelLoadFailed,
    %   w2v:deviceUnavailable, w2v:outputFailed, w2v:badArgument,
    %   w2v:backendFailed, w2v:unsafePath (a path with a line break),
    %   w2v:unsupportedPlatform (Windows). w2v.doctor() checks the set-up.
    %
    %   A new TargetRate resamples the outputs on disk without the model.
    %
    %   Example
    %     fs = 16000; t = (0:3 * fs - 1)' / fs;
    %     audiowrite('tone.wav', 0.5 * sin(2 * pi * 220 * t), fs);
    %     r = w2v.extract('tone.wav', 'OutputDir', tempdir, 'BaseName', 'tone');
    %     imagesc(r.time_axis, 1:size(r.embeddings, 2), r.embeddings');
    %     xlabel('time (s)'); ylabel('feature');
    %     x = w2v.extract('tone.wav', 'OutputDir', tempdir, 'BaseName', 'tone', ...
    %                     'TargetRate', 128);   % x.features: [384 x 1024] at x.fs
    %
    %     % the same on a cluster's GPU partition:
    %     % r = w2v.extract(files, 'Cluster', 'slurm', 'Partition', 'gpu', ...
    %     %                 'GpusPerNode', 1, 'TimeMin', 120, 'OutputDir', 'features');
    %
    %   See also w2v.load, w2v.resample, w2v.B2_model_wav2vec2, w2v.setup,
    %   w2v.doctor.

    if nargin < 1
        error('w2v:badArgument', 'w2v.extract needs the audio file(s) as first argument.');
    end
    files = w2v.internal.text_list(audioFiles, 'audioFiles');
    opts = w2v.internal.parse_options('w2v.extract', varargin);
    result = w2v.internal.run_extraction(files, opts);
end
