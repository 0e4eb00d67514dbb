function tests = test_end_to_end()
    %TEST_END_TO_END The real backend on a tiny local checkpoint, from MATLAB/Octave.
    tests = localfunctions();
end

function test_b2_returns_the_struct_it_wrote()
    fx = w2vtest.fixture();
    run = w2vtest.fixture('run_v5');
    r = run.result;
    frames = w2vtest.expected_frames(fx.num_samples.hostile);
    w2vtest.verify_equal(size(r.embeddings), [frames 32], 'embeddings size');
    w2vtest.verify_equal(class(r.embeddings), 'single', 'embeddings class');
    w2vtest.verify_equal(r.time_axis, (0:frames - 1)' * 320 / 16000, 'time_axis', 1e-12);
    w2vtest.verify_equal(r.model_name, fx.checkpoint, 'model_name');
    w2vtest.verify_equal(r.sample_rate, 16000, 'sample_rate');
    w2vtest.verify_equal(r.frame_stride, 0.02, 'frame_stride', 1e-15);
    w2vtest.verify_equal(r.receptive_field, 0.025, 'receptive_field', 1e-15);
    w2vtest.verify_equal(r.layers, 4, 'layers (last of 4)');
    w2vtest.verify_equal(r.status, 'written', 'status');
    w2vtest.verify_equal(r.audio_file, fx.hostile, 'audio_file');
    w2vtest.verify(isstruct(r.metadata) && isfield(r.metadata, 'fingerprint'), 'metadata');
    base = fullfile(run.output_dir, 'wav2vec2_embeddings');
    w2vtest.verify_equal(r.files, struct('mat', [base '.mat'], 'npy', [base '.npy'], ...
                                         'json', [base '.json']), 'files');
    w2vtest.verify_equal(r.embeddings, w2vtest.npy_reference(r.files.npy), 'values vs NumPy');
    w2vtest.verify(all(isfinite(r.embeddings(:))) && std(r.embeddings(:)) > 0, 'degenerate');
    w2vtest.verify_no_injection(fx, {run.output_dir, fileparts(fx.hostile)});
end

function test_extract_several_files_gives_struct_array_of_all_layers()
    fx = w2vtest.fixture();
    run = w2vtest.fixture('run_v73');
    r = run.result;
    w2vtest.verify_equal(size(r), [1 2], 'result size');
    names = {fx.hostile, fx.second};
    samples = [fx.num_samples.hostile, fx.num_samples.second];
    for k = 1:2
        frames = w2vtest.expected_frames(samples(k));
        w2vtest.verify_equal(size(r(k).embeddings), [frames 32 5], 'embeddings size');
        w2vtest.verify_equal(r(k).layers, 0:4, 'layers');
        w2vtest.verify_equal(r(k).audio_file, names{k}, 'audio_file');
        [~, stem] = fileparts(names{k});
        w2vtest.verify_equal(r(k).files.npy, fullfile(run.output_dir, [stem '_emb.npy']), 'npy');
        reference = w2vtest.npy_reference(r(k).files.npy);
        for layer = 1:5
            rows = (layer - 1) * frames + (1:frames);
            w2vtest.verify_equal(r(k).embeddings(:, :, layer), reference(rows, :), ...
                                 sprintf('file %d layer %d vs NumPy', k, layer));
        end
    end
    w2vtest.verify_no_injection(fx, {run.output_dir});
end

function test_rerun_is_up_to_date_and_overwrite_recomputes()
    fx = w2vtest.fixture();
    run = w2vtest.fixture('run_v5');
    args = {'AudioFile', fx.hostile, 'OutputDir', run.output_dir, 'Model', fx.checkpoint, ...
            'Device', 'cpu', 'MatVersion', '5', 'Quiet', true};
    before = pwd();
    again = w2v.B2_model_wav2vec2(args{:});
    w2vtest.verify_equal(pwd(), before, 'folder after a run');
    w2vtest.verify_equal(again.status, 'up_to_date', 'status of a rerun');
    w2vtest.verify_equal(again.embeddings, run.result.embeddings, 'embeddings of a rerun');
    forced = w2v.B2_model_wav2vec2(args{:}, 'Overwrite', true, 'LoadResults', false);
    w2vtest.verify_equal(forced.status, 'written', 'status with Overwrite');
    w2vtest.verify(isempty(forced.embeddings), 'LoadResults false still loaded');
end

function test_missing_file_is_audioNotFound_and_folder_is_restored()
    fx = w2vtest.fixture();
    caller = fullfile(fx.root, 'caller folder');
    if ~isfolder(caller)
        mkdir(caller);
    end
    previous = pwd();
    back = onCleanup(@() cd(previous));
    cd(caller);
    args = {'AudioFile', fullfile(fx.root, 'no such file.wav'), ...
            'OutputDir', fullfile(fx.root, 'o'), 'Model', fx.checkpoint, ...
            'Device', 'cpu', 'Quiet', true};
    err = w2vtest.assert_error(@() w2v.B2_model_wav2vec2(args{:}), 'w2v:audioNotFound');
    w2vtest.verify_equal(pwd(), caller, 'folder after an error');
    w2vtest.verify(~isempty(strfind(err.message, 'no such file.wav')), '%s', err.message);
end

function test_default_paths_are_taken_from_the_repository_root()
    fx = w2vtest.fixture();
    previous = pwd();
    back = onCleanup(@() cd(previous));
    cd(fx.root);
    args = {'Model', fx.checkpoint, 'Device', 'cpu', 'Quiet', true};
    err = w2vtest.assert_error(@() w2v.B2_model_wav2vec2(args{:}), 'w2v:audioNotFound');
    expected = fullfile(w2v.internal.toolbox_root(), 'data', 'Stimuli', 'Audio', ...
                        'audio_original_merged.wav');
    w2vtest.verify(~isempty(strfind(err.message, expected)), '%s', err.message);
    w2vtest.verify_equal(pwd(), fx.root, 'folder after an error');
end

function test_backend_failure_identifier_for_too_short_audio()
    fx = w2vtest.fixture();
    args = {'OutputDir', fullfile(fx.root, 'short'), 'Model', fx.checkpoint, ...
            'Device', 'cpu', 'Quiet', true};
    err = w2vtest.assert_error(@() w2v.extract(fx.short, args{:}), 'w2v:audioTooShort');
    w2vtest.verify(~isempty(strfind(err.message, 'short.wav')), '%s', err.message);
    w2vtest.verify(~isfile(fullfile(fx.root, 'short', 'wav2vec2_embeddings.npy')), ...
                   'outputs written for a failed file');
end

function test_bad_model_is_modelLoadFailed()
    fx = w2vtest.fixture();
    args = {'OutputDir', fullfile(fx.root, 'bad model'), 'Model', fullfile(fx.root, 'audio'), ...
            'Device', 'cpu', 'Quiet', true};
    w2vtest.assert_error(@() w2v.extract(fx.second, args{:}), 'w2v:modelLoadFailed');
end

function test_usage_error_of_the_backend_is_badArgument()
    fx = w2vtest.fixture();
    args = {'OutputDir', fullfile(fx.root, 'usage'), 'BaseName', '../escape', ...
            'Model', fx.checkpoint, 'Device', 'cpu', 'Quiet', true};
    w2vtest.assert_error(@() w2v.extract(fx.second, args{:}), 'w2v:badArgument');
    w2vtest.verify(~isfile(fullfile(fx.root, 'escape.npy')), 'wrote outside OutputDir');
end
