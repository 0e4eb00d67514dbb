function plan = buildfile()
    %BUILDFILE Build tasks of the w2v toolbox (MATLAB R2022b or newer).
    %   buildtool check     static analysis of the shipped code (codeIssues)
    %   buildtool test      the test suite in tests/matlab (run_tests.m)
    %   buildtool package   dist/w2v.mltbx from toolbox.prj (after check, test)
    %   buildtool           check and test
    %
    %   GNU Octave has no buildtool; run the suite there with
    %   octave --no-gui --no-window-system tests/matlab/run_tests.m

    plan = buildplan(localfunctions);
    plan("test").Dependencies = "check";
    plan("package").Dependencies = ["check" "test"];
    plan.DefaultTasks = ["check" "test"];
end

function checkTask(context)
    % Identify code issues in the shipped code; errors fail the build.
    issues = codeIssues(fullfile(context.Plan.RootFolder, '+w2v'));
    problems = issues.Issues(issues.Issues.Severity == 'error', :);
    disp(issues.Issues);
    assert(isempty(problems), 'w2v:build:codeIssues', ...
           '%d code issue(s) of severity error', height(problems));
end

function testTask(context)
    % The same runner as in GNU Octave; it errors when a test fails.
    run(fullfile(context.Plan.RootFolder, 'tests', 'matlab', 'run_tests.m'));
end

function packageTask(context)
    % Package the toolbox described by toolbox.prj into dist/w2v.mltbx.
    root = context.Plan.RootFolder;
    releaseFolder = fullfile(root, 'dist');
    if ~isfolder(releaseFolder)
        mkdir(releaseFolder);
    end
    output = fullfile(releaseFolder, 'w2v.mltbx');
    matlab.addons.toolbox.packageToolbox(fullfile(root, 'toolbox.prj'), output);
    fprintf('Packaged %s (version %s)\n', output, w2v.version());
end
