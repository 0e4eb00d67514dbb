function result = load(pathOrBase)
    %LOAD Read the outputs of one w2v run back into a struct.
    %   result = w2v.load(pathOrBase)
    %   result = w2v.load(outputFolder)
    %
    %   Input
    %     pathOrBase    char row or string scalar: the base path of a run's
    %                   outputs without extension (<OutputDir>/<BaseName>), or
    %                   the path of any one of them (.mat, .npy or .json).
    %     outputFolder  a folder (the OutputDir of a run): the one set of outputs
    %                   in it (<base>.json with <base>.npy or <base>.mat) is
    %                   read; resampled sets beside it (<base>_<fs>Hz.*) are
    %                   not counted. A folder holding several sets raises
    %                   w2v:ambiguousOutputs, whose message lists their base
    %                   paths; pass one of them instead.
    %
    %   Output (scalar struct)
    %     embeddings           [frames x hidden] single for one layer, or
    %                          [frames x hidden x layers] single for several
    %                          (layer order as in the layers field)
    %     time_axis            [frames x 1] double, s: onset of the receptive
    %                          field of each frame (k * stride / sample_rate)
    %     model_name           char: checkpoint the embeddings came from
    %     sample_rate          double, Hz: rate the audio was resampled to
    %     frame_stride         double, s: time between frames
    %     layers               [1 x layers] double: hidden-state indices in
    %                          transformers numbering (0 = feature projection)
    %     receptive_field      double, s: audio one frame sees
    %     frame_center_offset  double, s: add to time_axis for frame centres
    %     metadata             struct: the .json file decoded with jsondecode
    %                          (model, device, audio info, normalisation, ...)
    %     files                struct with fields mat, npy, json (char paths;
    %                          '' for a file that is absent)
    %     audio_file           char: the recording, from the metadata
    %     features, feature_time, fs, resampling, resampled_files
    %                          empty here; filled by w2v.extract with
    %                          TargetRate or TR (see there), or read the
    %                          resampled set with w2v.resample
    %     status, error        '' and [] here; filled by w2v.extract
    %
    %   The .mat file (MAT v5 or v7.3) is read when present; without it (a run
    %   that left <BaseName>.mat.failed) the .npy and .json are read instead.
    %   GNU Octave reads v7.3 files through its HDF5 loader, which drops the
    %   MATLAB classes; w2v.load restores them (single embeddings, char names).
    %
    %   Errors: w2v:outputNotFound, w2v:ambiguousOutputs, w2v:outputInvalid,
    %   w2v:badArgument.
    %
    %   Example
    %     r = w2v.load(fullfile('Models', 'wav2vec2'));   % the pipeline's folder
    %     plot(r.time_axis, r.embeddings(:, 1)); xlabel('time (s)');
    %
    %   See also w2v.extract, w2v.B2_model_wav2vec2.

    if ~w2v.internal.is_text(pathOrBase) || isempty(pathOrBase)
        error('w2v:badArgument', 'pathOrBase must be a char vector or a string scalar.');
    end
    base = char(pathOrBase);
    if isfolder(base)
        base = only_set_in(base);
    end
    base = strip_extension(base);
    files = struct('mat', existing([base '.mat']), 'npy', existing([base '.npy']), ...
                   'json', existing([base '.json']));
    if isempty(files.mat) && isempty(files.npy)
        error('w2v:outputNotFound', 'No w2v outputs at %s (neither .mat nor .npy exists).', base);
    end
    metadata = struct();
    if ~isempty(files.json)
        metadata = jsondecode(w2v.internal.read_text(files.json));
    end
    if ~isempty(files.mat)
        result = w2v.internal.read_mat_output(files.mat);
    else
        result = w2v.internal.read_npy_output(files.npy, metadata);
    end
    result.metadata = metadata;
    result.files = files;
    result.audio_file = audio_path(metadata);
end

function base = strip_extension(path)
    base = regexprep(path, '\.(mat|npy|json|mat\.failed)$', '', 'ignorecase');
end

function base = only_set_in(folder)
    % Base paths that have a .json and a .npy or .mat: the sets a run leaves.
    % Resampled sets (B_<fs>Hz.*, w2v.resample, TargetRate) belong to their
    % run and are not sets of their own.
    listing = dir(fullfile(folder, '*.json'));
    bases = cellfun(@(name) fullfile(folder, name(1:end - 5)), {listing.name}, ...
                    'UniformOutput', false);
    keep = cellfun(@(b) (isfile([b '.npy']) || isfile([b '.mat'])) && ...
                   ~is_resampled([b '.json']), bases);
    bases = sort(bases(keep));
    if isempty(bases)
        error('w2v:outputNotFound', 'No w2v outputs in the folder %s.', folder);
    elseif numel(bases) > 1
        quoted = strrep(bases, '''', '''''');
        error('w2v:ambiguousOutputs', ...
              '%s holds %d sets of w2v outputs; load one of them:%s', folder, ...
              numel(bases), sprintf('\n  w2v.load(''%s'')', quoted{:}));
    end
    base = bases{1};
end

function tf = is_resampled(jsonFile)
    % The format is the document's first field; 512 bytes reach it.
    fid = fopen(jsonFile, 'r');
    if fid < 0
        tf = false;
        return
    end
    head = fread(fid, 512, '*char')';
    fclose(fid);
    tf = ~isempty(regexp(head, '"format"\s*:\s*"w2v-resampled-features"', 'once'));
end

function path = existing(path)
    if ~isfile(path)
        path = '';
    end
end

function path = audio_path(metadata)
    path = '';
    if isfield(metadata, 'audio') && isstruct(metadata.audio) && ...
            isfield(metadata.audio, 'path') && ischar(metadata.audio.path)
        path = metadata.audio.path;
    end
end
