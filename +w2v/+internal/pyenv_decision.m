function [action, id, message, supported] = pyenv_decision(state)
    %PYENV_DECISION What to do with MATLAB's pyenv before an extraction (pure).
    %   [action, id, message, supported] = w2v.internal.pyenv_decision(state)
    %   STATE    struct with fields
    %              is_octave     logical
    %              status        pyenv Status: 'NotLoaded', 'Loaded', 'Terminated'
    %              executable    pyenv Executable (char)
    %              mode          pyenv ExecutionMode: 'InProcess', 'OutOfProcess'
    %              venv_python   the environment's interpreter (char)
    %              venv_version  its version, e.g. '3.11' ('' when unknown)
    %              release       MATLAB release without the R, e.g. '2024b'
    %   ACTION   'select': pyenv('Version', venv_python, 'ExecutionMode',
    %            'OutOfProcess'); 'none': leave pyenv as it is.
    %   ID, MESSAGE  '' or one informative warning (shown once per session by
    %            the gateway). The extraction runs as a subprocess in every
    %            case: no state of pyenv stops it.
    %   SUPPORTED true or false: this release's pyenv accepts venv_version;
    %            [] in Octave or for a release before w2v's table.
    %
    %   Python versions pyenv supports (MathWorks' table): R2023b-R2024a
    %   3.9-3.11, R2024b-R2025b 3.9-3.12; a newer release is assumed to match
    %   R2025b. Before R2023b w2v leaves pyenv alone.

    action = 'none';
    id = '';
    message = '';
    supported = [];
    if state.is_octave
        return
    end
    [low, high, note] = supported_range(state.release);
    minor = python_minor(state.venv_version);
    if ~isempty(low)
        supported = ~isempty(minor) && minor >= low && minor <= high;
    end
    if strcmp(state.status, 'Loaded')
        if ~(strcmp(state.executable, state.venv_python) && strcmp(state.mode, 'OutOfProcess'))
            id = 'w2v:pythonAlreadyLoaded';
            message = sprintf(['MATLAB has loaded the Python interpreter %s (%s); w2v leaves ' ...
                               'it as it is and runs %s as a separate process.'], ...
                              state.executable, state.mode, state.venv_python);
        end
        return
    end
    if isempty(supported)
        return
    elseif ~supported
        id = 'w2v:pyenvUnsupportedPython';
        message = sprintf(['MATLAB R%s%s supports Python 3.%d-3.%d for pyenv and the w2v ' ...
                           'environment has Python %s, so w2v does not select it with ' ...
                           'pyenv. This does not affect w2v.extract (it runs the ' ...
                           'environment as a separate process); py.* calls need a ' ...
                           'supported Python.'], ...
                          state.release, note, low, high, unknown_as_text(state.venv_version));
        return
    end
    action = 'select';
end

function [low, high, note] = supported_range(release)
    % Minor versions of Python 3 that pyenv accepts, by release ([] = not known).
    low = [];
    high = [];
    note = '';
    found = regexp(release, '^(\d{4})([ab])$', 'tokens', 'once');
    if isempty(found)
        return
    end
    key = str2double(found{1}) + 0.5 * strcmp(found{2}, 'b');
    if key < 2023.5
        return
    elseif key <= 2024
        low = 9;
        high = 11;
    else
        low = 9;
        high = 12;
        if key > 2025.5
            note = ' (newer than w2v''s table, taken to match R2025b)';
        end
    end
end

function minor = python_minor(version)
    minor = [];
    found = regexp(version, '^3\.(\d+)', 'tokens', 'once');
    if ~isempty(found)
        minor = str2double(found{1});
    end
end

function text = unknown_as_text(version)
    text = version;
    if isempty(text)
        text = 'of unknown version';
    end
end
