function tests = test_segments_verify_calibrate()
    %TEST_SEGMENTS_VERIFY_CALIBRATE Segments, Causal and Verify options; w2v.calibrate.
    tests = localfunctions();
end

function test_segments_causal_and_verify_reach_the_request()
    opts = w2v.internal.parse_options('t', {'Segments', [0 1.5; 2 3], 'Causal', true, ...
                                            'CausalContext', 4, 'CausalStep', 0.2});
    request = w2v.internal.build_request({'/x/a.wav'}, opts);
    encoded = jsonencode(request);
    w2vtest.verify(~isempty(strfind(encoded, '"segments":[[0,1.5],[2,3]]')), '%s', encoded);
    w2vtest.verify_equal(request.causal, true, 'causal');
    w2vtest.verify_equal(request.causal_context, 4, 'causal_context');
    w2vtest.verify_equal(request.causal_step, 0.2, 'causal_step');
    one = w2v.internal.build_request({'/x/a.wav'}, ...
                                     w2v.internal.parse_options('t', {'Segments', [0 1]}));
    w2vtest.verify(~isempty(strfind(jsonencode(one), '"segments":[[0,1]]')), 'one segment');
    file = w2v.internal.build_request({'/x/a.wav'}, ...
                                      w2v.internal.parse_options('t', {'Segments', 't.tsv'}));
    w2vtest.verify_equal(file.segments, fullfile(pwd(), 't.tsv'), 'a table file');
    verify = w2v.internal.build_request({'/x/a.wav'}, ...
                                        w2v.internal.parse_options('t', {'Verify', true}));
    w2vtest.verify_equal(verify.verify, true, 'verify');
    w2vtest.assert_error(@() w2v.extract('a.wav', 'Segments', [0 1 2]), 'w2v:badArgument');
end

function test_segments_end_to_end_keep_the_recordings_clock()
    fx = w2vtest.fixture();
    folder = [tempname() '_w2v_segments'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    r = w2v.extract(fx.hostile, 'OutputDir', folder, 'Model', fx.checkpoint, ...
                    'Device', 'cpu', 'Quiet', true, 'Segments', [0.5 1.5; 2 3]);
    frames = r.metadata.segments;
    w2vtest.verify_equal(numel(frames), 2, 'two segments');
    w2vtest.verify_equal(size(r.embeddings, 1), sum([frames.num_frames]), 'frames');
    first = frames(2).frame_start + 1;   % 0-based in the .json
    w2vtest.verify_equal(r.time_axis(first), 2, 'second segment starts at its onset', 1e-12);
end

function test_calibrate_recommends_a_setting_that_meets_the_target()
    fx = w2vtest.fixture();
    folder = [tempname() '_w2v_calibrate'];
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    report = w2v.calibrate(fx.hostile, 'Model', fx.checkpoint, 'Device', 'cpu', ...
                           'Chunks', [1 2], 'Contexts', [0 0.5], 'ReferenceSeconds', 3, ...
                           'OutputDir', folder, 'Quiet', true);
    w2vtest.verify(isstruct(report.recommended), 'a recommendation');
    w2vtest.verify(report.recommended.worst_cosine >= report.target, 'meets the target');
    w2vtest.verify(isfile(report.files.md) && isfile(report.files.json), 'report files');
    w2vtest.assert_error(@() w2v.calibrate(fx.hostile, 'Model', fx.checkpoint, ...
                                           'Chunks', -1, 'OutputDir', folder), ...
                         'w2v:badArgument');
end
