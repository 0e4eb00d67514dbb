function tests = test_load()
    %TEST_LOAD w2v.load of v5 and v7.3 outputs, the .npy fallback and its errors.
    tests = localfunctions();
end

function test_load_v5_from_any_of_its_paths()
    run = w2vtest.fixture('run_v5');
    base = fullfile(run.output_dir, 'wav2vec2_embeddings');
    w2vtest.verify_equal(mat_header(base), 'MATLAB 5.0', 'MAT version');
    reference = w2v.load(base);
    for ext = {'.mat', '.npy', '.json'}
        again = w2v.load([base ext{1}]);
        w2vtest.verify_equal(again.embeddings, reference.embeddings, ['embeddings via ' ext{1}]);
        w2vtest.verify_equal(again.files, reference.files, ['files via ' ext{1}]);
    end
    check_against_numpy(reference, 1);
end

function test_load_v73_restores_classes_and_orientation()
    fx = w2vtest.fixture();
    run = w2vtest.fixture('run_v73');
    base = fullfile(run.output_dir, 'emb');
    for k = 1:2
        file = run.result(k).files.mat;
        w2vtest.verify_equal(mat_header(file(1:end - 4)), 'MATLAB 7.3', 'MAT version');
        r = w2v.load(file);
        w2vtest.verify_equal(class(r.embeddings), 'single', 'class after v7.3');
        w2vtest.verify_equal(class(r.model_name), 'char', 'model_name class');
        w2vtest.verify_equal(r.model_name, fx.checkpoint, 'model_name');
        w2vtest.verify_equal(r.layers, 0:4, 'layers');
        w2vtest.verify_equal(size(r.time_axis, 2), 1, 'time_axis is a column');
        check_against_numpy(r, 5);
    end
    w2vtest.assert_error(@() w2v.load(base), 'w2v:outputNotFound');
end

function test_npy_fallback_matches_the_mat_file()
    fx = w2vtest.fixture();
    run = w2vtest.fixture('run_v73');
    copy = fullfile(fx.root, 'without mat');
    if ~isfolder(copy)
        mkdir(copy);
    end
    source = run.result(1).files;
    % Not copyfile: Octave's copyfile runs cp through a shell with double
    % quotes, so the $(...) in these file names would be executed.
    copy_bytes(source.npy, fullfile(copy, 'x.npy'));
    copy_bytes(source.json, fullfile(copy, 'x.json'));
    fromNpy = w2v.load(fullfile(copy, 'x'));
    fromMat = run.result(1);
    w2vtest.verify_equal(fromNpy.files.mat, '', 'no mat file');
    for name = {'embeddings', 'time_axis', 'model_name', 'sample_rate', 'frame_stride', ...
                'layers', ...
                'receptive_field', 'frame_center_offset'}
        w2vtest.verify_equal(fromNpy.(name{1}), fromMat.(name{1}), name{1}, 1e-12);
    end
end

function test_read_npy_gives_numpy_shape_in_matlab_order()
    run = w2vtest.fixture('run_v73');
    data = w2v.internal.read_npy(run.result(2).files.npy);
    frames = size(run.result(2).embeddings, 1);
    w2vtest.verify_equal(size(data), [5 frames 32], 'C-order (layers, frames, hidden)');
    w2vtest.verify_equal(permute(data, [2 3 1]), run.result(2).embeddings, 'values');
end

function test_load_of_nothing_is_outputNotFound()
    w2vtest.assert_error(@() w2v.load([tempname() '_none']), 'w2v:outputNotFound');
    w2vtest.assert_error(@() w2v.load(3), 'w2v:badArgument');
end

function check_against_numpy(r, numLayers)
    reference = w2vtest.npy_reference(r.files.npy);
    frames = size(r.embeddings, 1);
    w2vtest.verify_equal(size(reference, 1), frames * numLayers, 'rows of the .npy');
    for layer = 1:numLayers
        rows = (layer - 1) * frames + (1:frames);
        w2vtest.verify_equal(r.embeddings(:, :, layer), reference(rows, :), 'values vs NumPy');
    end
    w2vtest.verify_equal(r.time_axis, (0:frames - 1)' * 320 / 16000, 'time_axis', 1e-12);
    w2vtest.verify_equal(r.metadata.num_frames, frames, 'metadata.num_frames');
end

function copy_bytes(source, target)
    in = fopen(source, 'r');
    bytes = fread(in, Inf, '*uint8');
    fclose(in);
    out = fopen(target, 'w');
    fwrite(out, bytes, 'uint8');
    fclose(out);
end

function text = mat_header(base)
    fid = fopen([base '.mat'], 'r');
    text = fread(fid, 10, '*char')';
    fclose(fid);
end
