% RUN_TESTS Run the w2v MATLAB/Octave test suite (every tests/matlab/test_*.m).
%   GNU Octave:  octave --no-gui --no-window-system tests/matlab/run_tests.m
%            or  octave --no-gui --eval "run('tests/matlab/run_tests.m')"
%   MATLAB:      matlab -batch "run('tests/matlab/run_tests.m')"
%
%   Prints one line per test and a last line "N passed, N failed, N skipped";
%   any failure ends in an error, so the process exits with a non-zero status.
%   Set W2V_TEST_FILTER to a substring to run only the matching tests, and
%   W2V_TEST_REQUIRE_BACKEND=1 to fail, not skip, when the Python environment
%   is missing (always so under CI=true).

if exist('OCTAVE_VERSION', 'builtin')
    % Octave warns that w2v.load "shadows" the built-in load; it does not.
    warning('off', 'Octave:shadowed-function');
end
w2v_test_folder = fileparts(mfilename('fullpath'));
addpath(w2v_test_folder);
w2v_test_failed = w2vtest.run_suite(w2v_test_folder, getenv('W2V_TEST_FILTER'));
if w2v_test_failed > 0
    error('w2v:test:failed', '%d test(s) failed', w2v_test_failed);
end
