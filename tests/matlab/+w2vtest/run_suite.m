function [failed, passed, skipped] = run_suite(folder, filter)
    %RUN_SUITE Run every test function of every test_*.m file in FOLDER.
    %   [failed, passed, skipped] = w2vtest.run_suite(folder, filter). A test
    %   file is a function returning localfunctions(); its local functions whose
    %   names start with "test" are the tests. FILTER ('' for all) keeps tests
    %   whose "file/test" name contains it. A test passes when it returns,
    %   is skipped when it raises w2v:test:skip (see w2vtest.skip), and fails
    %   on any other error.

    root = fileparts(fileparts(folder));
    oldPath = addpath(root, folder);
    restorePath = onCleanup(@() path(oldPath));
    cleanFixture = onCleanup(@() w2vtest.fixture('cleanup'));

    listing = dir(fullfile(folder, 'test_*.m'));
    names = sort({listing.name});
    counts = struct('passed', 0, 'failed', 0, 'skipped', 0);
    failures = {};
    for f = 1:numel(names)
        [~, fileName] = fileparts(names{f});
        tests = feval(fileName);
        for t = 1:numel(tests)
            testName = strrep(func2str(tests{t}), '@', '');
            label = [fileName '/' testName];
            wanted = isempty(filter) || ~isempty(strfind(label, filter));
            if ~strncmp(testName, 'test', 4) || ~wanted
                continue
            end
            [outcome, detail] = run_one(tests{t});
            counts.(outcome) = counts.(outcome) + 1;
            report(outcome, label, detail);
            if strcmp(outcome, 'failed')
                failures{end + 1} = label; %#ok<AGROW>
            end
        end
    end
    if ~isempty(failures)
        fprintf('\nFailed:\n%s', sprintf('  %s\n', failures{:}));
    end
    fprintf('\n%d passed, %d failed, %d skipped\n', counts.passed, counts.failed, counts.skipped);
    failed = counts.failed;
    passed = counts.passed;
    skipped = counts.skipped;
end

function [outcome, detail] = run_one(test)
    % A test that changes the environment or the folder must not leak it.
    restoreVenv = w2vtest.set_env('W2V_VENV', getenv('W2V_VENV'));
    folder = pwd();
    restoreFolder = onCleanup(@() cd(folder));
    started = tic();
    try
        test();
        outcome = 'passed';
        detail = sprintf('%.1f s', toc(started));
    catch err
        if strcmp(err.identifier, 'w2v:test:skip')
            outcome = 'skipped';
            detail = err.message;
        else
            outcome = 'failed';
            detail = describe(err);
        end
    end
end

function text = describe(err)
    text = sprintf('%s: %s', err.identifier, err.message);
    for k = 1:min(numel(err.stack), 4)
        text = sprintf('%s\n      at %s line %d', text, err.stack(k).name, err.stack(k).line);
    end
end

function report(outcome, label, detail)
    tags = struct('passed', 'ok  ', 'failed', 'FAIL', 'skipped', 'skip');
    fprintf('%s %s (%s)\n', tags.(outcome), label, detail);
end
