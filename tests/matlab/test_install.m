function tests = test_install()
    %TEST_INSTALL Where things are looked for and written: venv, ProjectRoot, load(folder).
    %   The read-only toolbox and the per-user environment, as a user who
    %   cannot write there: tests/test_unprivileged.py.
    tests = localfunctions();
end

function test_w2v_venv_wins_and_the_checkout_venv_is_next()
    restore = w2vtest.set_env('W2V_VENV', '/some/where');
    w2vtest.verify_equal(w2v.internal.python_gateway('venv_dir'), '/some/where', 'W2V_VENV');
    unsetenv('W2V_VENV');
    root = w2v.internal.toolbox_root();
    if ~isfile(fullfile(root, '.venv', 'bin', 'python'))
        w2vtest.skip('no .venv in the toolbox folder');
    end
    w2vtest.verify_equal(w2v.internal.python_gateway('venv_dir'), fullfile(root, '.venv'), ...
                         '<toolbox>/.venv');
end

function test_load_of_a_folder_with_one_set()
    run = w2vtest.fixture('run_v5');
    fromFolder = w2v.load(run.output_dir);
    fromBase = w2v.load(fullfile(run.output_dir, 'wav2vec2_embeddings'));
    w2vtest.verify_equal(fromFolder.files, fromBase.files, 'files');
    w2vtest.verify_equal(fromFolder.embeddings, fromBase.embeddings, 'embeddings');
end

function test_load_of_a_folder_with_several_sets_lists_them()
    run = w2vtest.fixture('run_v73');
    err = w2vtest.assert_error(@() w2v.load(run.output_dir), 'w2v:ambiguousOutputs');
    for k = 1:2
        base = strrep(run.result(k).files.npy(1:end - 4), '''', '''''');
        w2vtest.verify(~isempty(strfind(err.message, base)), '%s not in %s', base, err.message);
    end
    empty = [tempname() '_empty'];
    mkdir(empty);
    cleanup = onCleanup(@() w2vtest.remove_folder(empty));
    w2vtest.assert_error(@() w2v.load(empty), 'w2v:outputNotFound');
end

function test_project_root_anchors_relative_paths()
    fx = w2vtest.fixture();
    caller = fullfile(fx.root, 'caller');
    if ~isfolder(caller)
        mkdir(caller);
    end
    previous = pwd();
    back = onCleanup(@() cd(previous));
    cd(caller);
    r = w2v.B2_model_wav2vec2('ProjectRoot', fx.root, ...
                              'AudioFile', fx.second(numel(fx.root) + 2:end), ...
                              'OutputDir', 'project out', 'Model', fx.checkpoint, ...
                              'Device', 'cpu', 'Quiet', true, 'LoadResults', false);
    w2vtest.verify_equal(r.files.npy, fullfile(fx.root, 'project out', ...
                                               'wav2vec2_embeddings.npy'), 'output path');
    w2vtest.verify(isfile(r.files.npy), 'no output');
    w2vtest.verify_equal(pwd(), caller, 'folder after the run');
end

function test_missing_audio_names_the_options_that_fix_it()
    fx = w2vtest.fixture();
    err = w2vtest.assert_error(@() w2v.B2_model_wav2vec2('ProjectRoot', fx.root, ...
                                                         'Model', fx.checkpoint, ...
                                                         'Device', 'cpu', 'Quiet', true), ...
                               'w2v:audioNotFound');
    for option = {'AudioFile', 'ProjectRoot', fx.root}
        w2vtest.verify(~isempty(strfind(err.message, option{1})), '%s lacks %s', ...
                       err.message, option{1});
    end
    w2vtest.assert_error(@() w2v.B2_model_wav2vec2('ProjectRoot', [tempname() '_none']), ...
                         'w2v:badArgument');
end

function test_octave_shadowing_warning_is_silenced_and_restored()
    if ~w2v.internal.is_octave()
        w2vtest.skip('only GNU Octave warns about +w2v/load.m');
    end
    previous = pwd();
    back = onCleanup(@() w2v.internal.quiet_cd(previous));
    state = warning('query', 'Octave:shadowed-function');
    restore = onCleanup(@() warning(state));
    warning('on', 'Octave:shadowed-function');
    root = w2v.internal.toolbox_root();
    [~, id] = warned(@() cd(root));
    w2vtest.verify_equal(id, 'Octave:shadowed-function', 'plain cd warns (precondition)');
    w2v.internal.quiet_cd(tempdir());
    [~, id] = warned(@() w2v.internal.quiet_cd(root));
    w2vtest.verify_equal(id, '', 'warning from quiet_cd');
    w2vtest.verify_equal(pwd(), root, 'folder');
    now = warning('query', 'Octave:shadowed-function');
    w2vtest.verify_equal(now.state, 'on', 'user''s warning state');
end

function [message, id] = warned(action)
    lastwarn('');
    evalc('action();');
    [message, id] = lastwarn();
end

function test_doctor_reports_every_check()
    w2vtest.require_backend();
    folder = [tempname() '_doctor'];
    mkdir(folder);
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    [text, report] = evalc_value(@() w2v.doctor('OutputDir', folder));
    names = {report.checks.name};
    for name = {'interpreter', 'platform', 'environment', 'backend', 'torch', 'model cache', ...
                'output', 'shell'}
        w2vtest.verify(any(strcmp(names, name{1})), 'no %s check', name{1});
        w2vtest.verify(~isempty(strfind(text, name{1})), '%s not printed', name{1});
    end
    w2vtest.verify_equal(report.backend_version, w2v.version(), 'backend version');
    w2vtest.verify_equal(report.output_dir, folder, 'output_dir');
    w2vtest.verify(report.ok, 'doctor found a problem:\n%s', text);
    w2vtest.verify(~isempty(report.torch_version), 'torch version');
end

function test_doctor_names_the_fix_for_a_missing_environment()
    restore = w2vtest.set_env('W2V_VENV', [tempname() '_no_venv']);
    [text, report] = evalc_value(@() w2v.doctor());
    w2vtest.verify(~report.ok, 'ok without an environment');
    env = report.checks(strcmp({report.checks.name}, 'environment'));
    w2vtest.verify_equal(env.fix, 'run w2v.setup()', 'fix');
    w2vtest.verify(~isempty(strfind(text, 'w2v.setup()')), '%s', text);
end

function [text, value] = evalc_value(action)
    value = [];
    text = evalc('value = action();');
end
