function tests = test_gateway()
    %TEST_GATEWAY The Python gateway against a stand-in interpreter (no torch needed).
    tests = localfunctions();
end

function test_missing_venv_is_venvMissing()
    restore = w2vtest.set_env('W2V_VENV', [tempname() '_no_such_venv']);
    w2vtest.assert_error(@() w2v.extract('a.wav'), 'w2v:venvMissing');
    w2vtest.assert_error(@() w2v.B2_model_wav2vec2(), 'w2v:venvMissing');
end

function test_backend_crash_without_summary_is_backendFailed()
    fake = w2vtest.fake_venv('', 139);
    w2vtest.assert_error(@() w2v.extract('a.wav'), 'w2v:backendFailed');
end

function test_backend_error_code_becomes_identifier_and_message()
    message = 'a.wav: 0.010 s is shorter than one frame (0.025 s)';
    entry = w2vtest.summary_entry('/x/a.wav', 'failed', 'audioTooShort', message);
    fake = w2vtest.fake_venv(w2vtest.summary_json(entry, 1), 1);
    err = w2vtest.assert_error(@() w2v.extract('a.wav'), 'w2v:audioTooShort');
    w2vtest.verify_equal(err.message, message, 'error message');
end

function test_message_with_format_characters_is_kept_verbatim()
    message = 'odd %s %d \n name 100% done';
    entry = w2vtest.summary_entry('/x/a.wav', 'failed', 'audioInvalid', message);
    fake = w2vtest.fake_venv(w2vtest.summary_json(entry, 1), 1);
    err = w2vtest.assert_error(@() w2v.extract('a.wav'), 'w2v:audioInvalid');
    w2vtest.verify_equal(err.message, message, 'error message');
end

function test_unusable_error_code_falls_back_to_backendFailed()
    entry = w2vtest.summary_entry('/x/a.wav', 'failed', 'not an identifier!', 'boom');
    fake = w2vtest.fake_venv(w2vtest.summary_json(entry, 1), 1);
    w2vtest.assert_error(@() w2v.extract('a.wav'), 'w2v:backendFailed');
end

function test_run_level_error_is_raised_with_its_code()
    summary = struct('ok', false, 'exit_code', 130, 'version', w2v.version(), ...
                     'error', struct('code', 'interrupted', 'message', 'interrupted by SIGINT'));
    summary.files = w2vtest.summary_entry('/x/a.wav', 'failed', 'interrupted', 'stopped');
    fake = w2vtest.fake_venv(jsonencode(summary), 130);
    err = w2vtest.assert_error(@() w2v.extract({'a.wav', 'b.wav'}), 'w2v:interrupted');
    w2vtest.verify_equal(err.message, 'interrupted by SIGINT', 'error message');
end

function test_first_failure_of_several_raises_with_count()
    entries = [w2vtest.summary_entry('/x/a.wav', 'written'), ...
               w2vtest.summary_entry('/x/b.wav', 'failed', 'audioNotFound', 'b.wav: gone')];
    fake = w2vtest.fake_venv(w2vtest.summary_json(entries, 1), 1);
    err = w2vtest.assert_error(@() w2v.extract({'a.wav', 'b.wav'}), 'w2v:audioNotFound');
    w2vtest.verify(~isempty(strfind(err.message, '1 of 2 files failed')), '%s', err.message);
end

function test_continue_returns_status_of_every_file()
    entries = [w2vtest.summary_entry('/x/a.wav', 'written'), ...
               w2vtest.summary_entry('/x/b.wav', 'failed', 'audioNotFound', 'b.wav: gone')];
    fake = w2vtest.fake_venv(w2vtest.summary_json(entries, 1), 1);
    lastwarn('');
    result = w2v.extract({'a.wav'; 'b.wav'}, 'OnError', 'continue', 'LoadResults', false);
    w2vtest.verify_equal(size(result), [2 1], 'result size');
    w2vtest.verify_equal(result(1).status, 'written', 'status 1');
    w2vtest.verify_equal(result(1).files.npy, '/nowhere/x.npy', 'npy path');
    w2vtest.verify_equal(result(2).status, 'failed', 'status 2');
    w2vtest.verify_equal(result(2).error.code, 'audioNotFound', 'error code');
    w2vtest.verify_equal(result(2).audio_file, fullfile(pwd(), 'b.wav'), 'audio_file');
    [~, id] = lastwarn();
    w2vtest.verify_equal(id, 'w2v:filesFailed', 'warning');
end

function test_hostile_names_travel_only_inside_the_request_file()
    folder = [tempname() '_w2v_hostile'];
    marker = [folder '_marker'];
    name = sprintf('it''s "a" & b; $(touch %s) `touch %s`.wav', marker, marker);
    entry = w2vtest.summary_entry('/x/a.wav', 'failed', 'audioNotFound', 'gone');
    fake = w2vtest.fake_venv(w2vtest.summary_json(entry, 1), 1);
    w2vtest.assert_error(@() w2v.extract(fullfile(folder, name)), 'w2v:audioNotFound');
    request = jsondecode(w2v.internal.read_text(fake.request));
    w2vtest.verify_equal(request.audio, {fullfile(folder, name)}, 'audio in the request');
    args = strsplit(strtrim(w2v.internal.read_text(fake.args)), sprintf('\n'));
    w2vtest.verify_equal(args(1:3), {'-m', 'w2vbackend', '--request'}, 'arguments');
    w2vtest.verify_equal(args{5}, '--summary-json', 'arguments');
    w2vtest.verify_equal(numel(args), 6, 'number of arguments');
    w2vtest.verify(~isfile(args{4}) && ~isfile(args{6}), 'temporary files were left behind');
    w2vtest.verify(~isfile(marker), 'a file name was executed');
end

function test_pyenv_never_blocks_an_extraction()
    if w2v.internal.is_octave()
        w2vtest.skip('GNU Octave has no pyenv; it runs the same subprocess without it');
    end
    w2vtest.require_backend();
    lastwarn('');
    run = w2vtest.fixture('run_v5');
    w2vtest.verify(~isempty(run.result.embeddings), 'no embeddings');
    env = pyenv();
    [action, id] = w2v.internal.python_gateway('pyenv_check');
    if strcmp(id, 'w2v:pythonAlreadyLoaded') || strcmp(id, 'w2v:pyenvUnsupportedPython')
        w2vtest.verify_equal(action, 'none', 'pyenv left alone');
    else
        w2vtest.verify_equal(char(env.ExecutionMode), 'OutOfProcess', 'pyenv ExecutionMode');
        w2vtest.verify_equal(char(env.Executable), w2v.internal.python_gateway('interpreter'), ...
                             'pyenv Executable');
    end
end

function test_setup_runs_setup_venv_with_given_python_and_folder()
    fake = w2vtest.fake_venv('', 0);
    target = [tempname() ' new ''venv'' & $(x)'];
    output = evalc_quiet(@() w2v.setup('Python', fake.python, 'VenvDir', target, 'Dev', true));
    args = strsplit(strtrim(w2v.internal.read_text(fake.args)), sprintf('\n'));
    script = fullfile(w2v.internal.toolbox_root(), 'setup_venv.py');
    w2vtest.verify_equal(args, {script, '--venv', target, '--dev'}, 'setup_venv.py arguments');
    w2vtest.verify_equal(output, fullfile(target, 'bin', 'python'), 'returned interpreter');
    w2vtest.verify_equal(getenv('W2V_VENV'), target, 'W2V_VENV for this session');
    w2vtest.remove_folder(target);
end

function test_setup_refuses_old_python()
    fake = w2vtest.fake_venv('', 0, 308);
    w2vtest.assert_error(@() w2v.setup('Python', fake.python, 'VenvDir', tempname()), ...
                         'w2v:pythonTooOld');
end

function test_setup_refuses_a_non_python()
    w2vtest.assert_error(@() w2v.setup('Python', [tempname() '_no_python'], ...
                                       'VenvDir', tempname()), 'w2v:pythonNotFound');
end

function test_setup_failure_carries_the_scripts_reason()
    fake = w2vtest.fake_venv('', 1);
    w2v.internal.write_text(fullfile(fake.folder, 'stderr.txt'), ...
                            'setup_venv: error: pip install torch failed (exit 1); see the log');
    target = tempname();
    cleanup = onCleanup(@() w2vtest.remove_folder(target));
    setup = @() w2v.setup('Python', fake.python, 'VenvDir', target);
    err = w2vtest.assert_error(@() evalc_quiet(setup), 'w2v:setupFailed');
    w2vtest.verify(~isempty(strfind(err.message, 'pip install torch failed')), '%s', err.message);
end

function test_setup_needs_a_writable_folder()
    parent = [tempname() '_readonly'];
    mkdir(parent);
    w2v.internal.run_command({'chmod', '555', parent});
    cleanup = onCleanup(@() writable_then_removed(parent));
    probe = fopen(fullfile(parent, 'probe'), 'w');
    if probe >= 0
        fclose(probe);
        w2vtest.skip('running as a user who can write to read-only folders (root)');
    end
    w2vtest.assert_error(@() w2v.setup('VenvDir', fullfile(parent, 'venv')), ...
                         'w2v:venvNotWritable');
end

function value = evalc_quiet(action)
    % Run ACTION, hiding what it prints; returns its output value.
    [~, value] = evalc_value(action);
end

function [text, value] = evalc_value(action)
    value = [];
    text = evalc('value = action();');
end

function writable_then_removed(folder)
    w2v.internal.run_command({'chmod', '-R', 'u+w', folder});
    w2vtest.remove_folder(folder);
end
