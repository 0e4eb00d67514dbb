function tests = test_pyenv()
    %TEST_PYENV The pyenv decision for every state MATLAB can be in (pure; runs in Octave).
    tests = localfunctions();
end

function state = matlab_state(varargin)
    state = struct('is_octave', false, 'status', 'NotLoaded', 'executable', '/usr/bin/python3', ...
                   'mode', 'InProcess', 'venv_python', '/v/bin/python', 'venv_version', '3.11', ...
                   'release', '2024a');
    for k = 1:2:numel(varargin)
        state.(varargin{k}) = varargin{k + 1};
    end
end

function check(state, action, id, supported)
    [gotAction, gotId, message, gotSupported] = w2v.internal.pyenv_decision(state);
    if nargin > 3
        w2vtest.verify(isequal(gotSupported, supported), 'supported');
    end
    w2vtest.verify_equal(gotAction, action, 'action');
    w2vtest.verify_equal(gotId, id, 'identifier');
    w2vtest.verify_equal(isempty(message), isempty(id), 'a message exactly with an identifier');
end

function test_octave_has_no_pyenv()
    check(matlab_state('is_octave', true, 'venv_version', '3.13'), 'none', '', []);
end

function test_nothing_loaded_and_supported_selects_the_environment()
    check(matlab_state(), 'select', '', true);
    check(matlab_state('status', 'Terminated'), 'select', '', true);
    check(matlab_state('release', '2024b', 'venv_version', '3.12'), 'select', '');
    check(matlab_state('release', '2023b', 'venv_version', '3.9'), 'select', '');
end

function test_already_ours_out_of_process_is_left_alone_silently()
    check(matlab_state('status', 'Loaded', 'executable', '/v/bin/python', ...
                       'mode', 'OutOfProcess'), 'none', '');
end

function test_another_loaded_interpreter_is_one_warning_not_an_error()
    check(matlab_state('status', 'Loaded'), 'none', 'w2v:pythonAlreadyLoaded', true);
    check(matlab_state('status', 'Loaded', 'venv_version', '3.13'), 'none', ...
          'w2v:pythonAlreadyLoaded', false);
    check(matlab_state('status', 'Loaded', 'executable', '/v/bin/python'), 'none', ...
          'w2v:pythonAlreadyLoaded');
    [~, ~, message] = w2v.internal.pyenv_decision(matlab_state('status', 'Loaded'));
    w2vtest.verify(~isempty(strfind(message, '/usr/bin/python3')), '%s', message);
end

function test_unsupported_python_per_release_table()
    check(matlab_state('release', '2024a', 'venv_version', '3.12'), 'none', ...
          'w2v:pyenvUnsupportedPython', false);
    check(matlab_state('release', '2023b', 'venv_version', '3.8'), 'none', ...
          'w2v:pyenvUnsupportedPython');
    check(matlab_state('release', '2025b', 'venv_version', '3.13'), 'none', ...
          'w2v:pyenvUnsupportedPython');
    check(matlab_state('venv_version', ''), 'none', 'w2v:pyenvUnsupportedPython');
    [~, ~, message] = w2v.internal.pyenv_decision(matlab_state('venv_version', '3.12'));
    w2vtest.verify(~isempty(strfind(message, '3.9-3.11')), '%s', message);
end

function test_newer_release_uses_the_last_known_table_and_says_so()
    check(matlab_state('release', '2026a', 'venv_version', '3.12'), 'select', '');
    [~, id, message] = w2v.internal.pyenv_decision(matlab_state('release', '2026a', ...
                                                                'venv_version', '3.13'));
    w2vtest.verify_equal(id, 'w2v:pyenvUnsupportedPython', 'identifier');
    w2vtest.verify(~isempty(strfind(message, 'R2025b')), '%s', message);
end

function test_release_before_the_table_leaves_pyenv_alone_silently()
    check(matlab_state('release', '2023a'), 'none', '', []);
end
