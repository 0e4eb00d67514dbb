function tests = test_extract_resampled()
    %TEST_EXTRACT_RESAMPLED w2v.extract with TargetRate, TR and CND: features on the neural clock.
    tests = localfunctions();
end

function test_target_rate_returns_features_at_fs()
    fx = w2vtest.fixture();
    folder = [tempname() '_w2v_target'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    args = {fx.hostile, 'OutputDir', folder, 'Model', fx.checkpoint, 'Device', 'cpu', ...
            'Quiet', true, 'Layers', [2 4], 'TargetRate', 64};
    r = w2v.extract(args{:});
    n = ceil(fx.num_samples.hostile / 16000 * 64 - 1e-9);   % samples in [0, duration)
    w2vtest.verify_equal(size(r.features), [n 32 2], 'features size');
    w2vtest.verify_equal(class(r.features), 'single', 'features class');
    w2vtest.verify_equal(r.fs, 64, 'fs');
    w2vtest.verify_equal(r.feature_time, (0:n - 1)' / 64, 'feature_time', 1e-12);
    w2vtest.verify_equal(r.resampling.frame_center_offset, r.frame_center_offset, 'offset');
    base = fullfile(folder, 'wav2vec2_embeddings_64Hz');
    w2vtest.verify_equal(r.resampled_files, struct('mat', [base '.mat'], ...
                                                   'npy', [base '.npy'], ...
                                                   'json', [base '.json']), 'files');
    m = load(r.resampled_files.mat);
    w2vtest.verify_equal(m.stim{1, 2}, r.features(:, :, 2), 'mTRF stim layer 2');
    w2vtest.verify_equal(m.fs, 64, 'mTRF fs');
    x = w2v.resample(r, 64, 'OutputDir', fullfile(folder, 'again'));
    w2vtest.verify_equal(x.features, r.features, 'w2v.resample of the same run');
    w2vtest.verify_equal(x.feature_time, r.feature_time, 'one grid for both functions');
    loaded = w2v.load(folder);    % B_64Hz.* beside B.* is not a second set
    w2vtest.verify_equal(loaded.embeddings, r.embeddings, 'w2v.load of the folder');
    again = w2v.extract(args{:});
    w2vtest.verify_equal(again.status, 'up_to_date', 'rerun status');
    w2vtest.verify_equal(again.features, r.features, 'rerun features');
end

function test_tr_and_cnd_over_two_files()
    fx = w2vtest.fixture();
    folder = [tempname() '_w2v_cnd'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    cnd = fullfile(folder, 'dataStim.mat');
    r = w2v.extract({fx.hostile, fx.second}, 'OutputDir', folder, 'Model', fx.checkpoint, ...
                    'Device', 'cpu', 'Quiet', true, 'TR', 0.5, 'GridStart', 0.25, ...
                    'CND', cnd, 'MatVersion', '5');
    samples = [fx.num_samples.hostile, fx.num_samples.second];
    for k = 1:2
        n = ceil((samples(k) / 16000 - 0.25) * 2 - 1e-9);
        w2vtest.verify_equal(size(r(k).features), [n 32], sprintf('file %d size', k));
        w2vtest.verify_equal(r(k).fs, 2, 'fs = 1/TR');
        w2vtest.verify_equal(r(k).feature_time(1), 0.25, 'grid start');
    end
    s = load(cnd);
    w2vtest.verify_equal(size(s.stim.data), [1 2], 'CND {nFeat x nTrials}');
    w2vtest.verify_equal(s.stim.data{1, 2}, r(2).features, 'CND trial 2 is the second file');
    w2vtest.verify_equal(s.stim.fs, 2, 'CND fs');
end

function test_resampling_options_need_a_target()
    fx = w2vtest.fixture();
    folder = [tempname() '_w2v_notarget'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    w2vtest.assert_error(@() w2v.extract(fx.hostile, 'OutputDir', folder, 'Quiet', true, ...
                                         'Model', fx.checkpoint, 'CND', 'x.mat'), ...
                         'w2v:badArgument');
end
