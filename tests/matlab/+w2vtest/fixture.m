function value = fixture(what)
    %FIXTURE Shared, lazily built test material (built once per suite run).
    %   fx = w2vtest.fixture() builds (first call) and returns a struct with a
    %       tiny checkpoint folder and recordings (see make_fixture.py): fields
    %       root, checkpoint, hostile, second, short, num_samples, marker,
    %       relative_markers.
    %   run = w2vtest.fixture('run_v5') / fixture('run_v73'): outputs of one
    %       real backend run (v5: w2v.B2_model_wav2vec2 on the hostile file;
    %       v7.3: w2v.extract on two files, all layers) as struct with fields
    %       result and output_dir.
    %   w2vtest.fixture('cleanup') deletes everything built.
    %   Tests that need the backend call w2vtest.require_backend() first.

    persistent cache
    if nargin < 1
        what = 'base';
    end
    if strcmp(what, 'cleanup')
        if isstruct(cache) && isfield(cache, 'base')
            w2vtest.remove_folder(cache.base.root);
        end
        cache = [];
        return
    end
    if ~isstruct(cache)
        cache = struct();
    end
    if ~isfield(cache, what)
        switch what
            case 'base'
                cache.base = build_base();
            case 'run_v5'
                cache.run_v5 = run_v5(w2vtest.fixture());
            case 'run_v73'
                cache.run_v73 = run_v73(w2vtest.fixture());
            otherwise
                error('w2v:test:fixture', 'unknown fixture %s', what);
        end
    end
    value = cache.(what);
end

function fx = build_base()
    w2vtest.require_backend();
    root = [tempname() '_w2v_fixture'];
    mkdir(root);
    script = fullfile(fileparts(fileparts(mfilename('fullpath'))), 'make_fixture.py');
    try
        w2vtest.run_python(script, root);
    catch err
        w2vtest.remove_folder(root);
        rethrow(err);
    end
    fx = jsondecode(w2v.internal.read_text(fullfile(root, 'fixture.json')));
    fx.root = root;
end

function run = run_v5(fx)
    run.output_dir = fullfile(fx.root, 'out v5 ''quoted''');
    run.result = w2v.B2_model_wav2vec2('AudioFile', fx.hostile, 'OutputDir', run.output_dir, ...
                                       'Model', fx.checkpoint, 'Device', 'cpu', ...
                                       'MatVersion', '5', 'Quiet', true);
end

function run = run_v73(fx)
    run.output_dir = fullfile(fx.root, 'out v73 & co');
    run.result = w2v.extract({fx.hostile, fx.second}, 'OutputDir', run.output_dir, ...
                             'Model', fx.checkpoint, 'Device', 'cpu', 'Layers', 'all', ...
                             'MatVersion', 7.3, 'BaseName', 'emb', 'Quiet', true);
end
