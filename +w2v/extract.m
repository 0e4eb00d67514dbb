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
    %                 code and message). With TargetRate or TR also (the
    %                 names w2v.resample returns; empty otherwise):
    %                   features      [samples x hidden] single, or
    %                                 [samples x hidden x layers]: the
    %                                 embeddings resampled onto the neural clock
    %                   feature_time  [samples x 1] double, s:
    %                                 GridStart + (0:samples-1)'/fs, covering
    %                                 [GridStart, duration of the recording)
    %                   fs            double, Hz (1/TR for a TR)
    %                   resampling    struct: method, filter, grid, edge rule
    %                   resampled_files  struct: mat, npy, json of
    %                                 <BaseName>_<fs>Hz.* (the .mat in
    %                                 mTRF-Toolbox layout: stim, t, fs)
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
    %     TargetRate      Hz: also write <BaseName>_<fs>Hz.npy/.mat/.json, the
    %                     features resampled (anti-aliased, frame centres) to
    %                     this rate, and return them in features [[] = none]
    %     TR              s, fMRI: one sample per TR, instead of TargetRate
    %                     [[] = none]
    %     GridStart       s, time of the first resampled sample in the
    %                     recording; negative for a baseline [0]
    %     Method          resampling kernel: 'kaiser' (windowed sinc) or
    %                     'lanczos' (normalised Lanczos-3) ['kaiser']
    %     Edge            beyond the recording: 'edge' repeats the first/last
    %                     frame, 'zeros' pads with zeros ['edge']
    %     CND             file name of a CNSP/CND dataStim.mat to write, one
    %                     trial per audio file in input order; needs
    %                     TargetRate or TR ['' = none]
    %     OnError         'error': the first failed file raises w2v:<code> with
    %                     the backend's message; 'continue': failed files come
    %                     back with status 'failed' and a warning ['error']
    %     LoadResults     read the outputs back into the struct; false returns
    %                     only paths and status (saves memory for long lists)
    %                     [true]
    %
    %   Errors (identifiers): w2v:venvMissing (run w2v.setup), w2v:audioNotFound,
    %   w2v:audioInvalid, w2v:audioTooShort, w2v:modelLoadFailed,
    %   w2v:deviceUnavailable, w2v:outputFailed, w2v:badArgument,
    %   w2v:backendFailed, w2v:unsafePath (a path with a line break),
    %   w2v:unsupportedPlatform (Windows). w2v.doctor() checks the set-up.
    %
    %   A rerun with the same TargetRate is up to date; a new one resamples the
    %   embeddings on disk again without running the model. See also the
    %   README section "Features on the neural clock".
    %
    %   Example
    %     fs = 16000; t = (0:3 * fs - 1)' / fs;
    %     audiowrite('tone.wav', 0.5 * sin(2 * pi * 220 * t), fs);
    %     r = w2v.extract('tone.wav', 'OutputDir', tempdir, 'BaseName', 'tone');
    %     imagesc(r.time_axis, 1:size(r.embeddings, 2), r.embeddings');
    %     xlabel('time (s)'); ylabel('feature');
    %     % The same features on a 128 Hz EEG clock, ready for mTRFtrain:
    %     x = w2v.extract('tone.wav', 'OutputDir', tempdir, 'BaseName', 'tone', ...
    %                     'TargetRate', 128);
    %     size(x.features)   % [384 x 1024] single; x.fs is 128
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
