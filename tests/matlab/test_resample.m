function tests = test_resample()
    %TEST_RESAMPLE w2v.resample on real runs: grid, layout, files, TR form and errors.
    tests = localfunctions();
end

function test_resample_two_runs_to_128_hz_with_a_cnd_file()
    run = w2vtest.fixture('run_v73');
    folder = [tempname() '_w2v_resample'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    cnd = fullfile(folder, 'dataStim.mat');
    x = w2v.resample(run.result, 128, 'OutputDir', folder, 'CND', cnd, 'MatVersion', '5');
    w2vtest.verify_equal(numel(x), 2, 'one output per run');
    for k = 1:2
        r = run.result(k);
        w2vtest.verify_equal(class(x(k).features), 'single', 'features class');
        w2vtest.verify_equal(size(x(k).features, 2), size(r.embeddings, 2), 'hidden size');
        w2vtest.verify_equal(size(x(k).features, 3), size(r.embeddings, 3), 'layers');
        w2vtest.verify_equal(x(k).layers, r.layers, 'layer numbers');
        duration = r.metadata.audio.num_samples / r.metadata.audio.sample_rate;
        w2vtest.verify_equal(numel(x(k).feature_time), ceil(duration * 128 - 1e-9), ...
                             'samples in [0, duration)');
        grid = x(k).feature_time;
        w2vtest.verify(abs(grid(2) - 1 / 128) < 1e-12 && grid(1) == 0, 'grid');
        w2vtest.verify_equal(x(k).resampling.frame_center_offset, r.frame_center_offset, 'offset');
        m = load(x(k).files.mat);
        w2vtest.verify_equal(size(m.stim), [1 size(r.embeddings, 3)], 'mTRF stim cell');
        w2vtest.verify_equal(m.stim{1, 2}, x(k).features(:, :, 2), 'mTRF layer 2');
    end
    s = load(cnd);
    w2vtest.verify_equal(size(s.stim.data), [size(run.result(1).embeddings, 3) 2], 'CND data');
    w2vtest.verify_equal(s.stim.data{3, 2}, x(2).features(:, :, 3), 'CND trial 2, layer 3');
    w2vtest.verify_equal(s.stim.fs, 128, 'CND fs');
end

function test_resample_by_tr_from_a_path()
    run = w2vtest.fixture('run_v5');
    folder = [tempname() '_w2v_resample'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    base = run.result.files.json(1:end - 5);
    x = w2v.resample(base, [], 'TR', 0.5, 'OutputDir', folder, 'GridStart', -1, ...
                     'Method', 'lanczos');
    w2vtest.verify_equal(x.fs, 2, 'fs from TR');
    w2vtest.verify_equal(x.feature_time(1), -1, 'grid start');
    w2vtest.verify_equal(x.resampling.method, 'lanczos', 'method');
    w2vtest.verify(all(isfinite(x.features(:))), 'finite features');
end

function test_resample_errors_name_the_problem()
    w2vtest.assert_error(@() w2v.resample('x', 128, 'TR', 2), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.resample('x', []), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.resample('x', 128, 'Method', 'nearest'), 'w2v:badArgument');
    w2vtest.require_backend();
    w2vtest.assert_error(@() w2v.resample(fullfile(tempdir(), 'no such run'), 128), ...
                         'w2v:resampleFailed');
end
