function tests = test_options()
    %TEST_OPTIONS Options, requests, quoting and help text; no Python needed.
    tests = localfunctions();
end

function test_version_is_semver_from_version_file()
    v = w2v.version();
    w2vtest.verify(~isempty(regexp(v, '^\d+\.\d+\.\d+([.-]?\w+)?$', 'once')), 'version %s', v);
    file = fullfile(w2v.internal.toolbox_root(), 'python', 'w2vbackend', 'VERSION');
    w2vtest.verify_equal(v, strtrim(fileread(file)), 'w2v.version()');
end

function test_toolbox_prj_version_equals_version_file()
    prj = fileread(fullfile(w2v.internal.toolbox_root(), 'toolbox.prj'));
    found = regexp(prj, '<param.version>([^<]*)</param.version>', 'tokens', 'once');
    w2vtest.verify(~isempty(found), 'toolbox.prj has no param.version');
    w2vtest.verify_equal(found{1}, w2v.version(), 'toolbox.prj version');
end

function test_toolbox_prj_ships_toolbox_backend_and_readme()
    prj = fileread(fullfile(w2v.internal.toolbox_root(), 'toolbox.prj'));
    w2vtest.verify(~isempty(strfind(prj, 'plugin="plugin.toolbox"')), 'not a toolbox project');
    for item = {'+w2v', 'python', 'setup_venv.py', 'README.md'}
        entry = sprintf('<file>${PROJECT_ROOT}/%s</file>', item{1});
        w2vtest.verify(~isempty(strfind(prj, entry)), 'toolbox.prj does not ship %s', item{1});
    end
end

function test_toolbox_prj_declares_linux_and_macos_only()
    prj = fileread(fullfile(w2v.internal.toolbox_root(), 'toolbox.prj'));
    wanted = struct('windows', 'false', 'macos', 'true', 'linux', 'true');
    for name = fieldnames(wanted)'
        found = regexp(prj, sprintf('<param.compatiblity.%s>(\\w+)<', name{1}), 'tokens', 'once');
        w2vtest.verify(~isempty(found), 'toolbox.prj lacks compatibility with %s', name{1});
        w2vtest.verify_equal(found{1}, wanted.(name{1}), ['compatibility ' name{1}]);
    end
    w2vtest.verify(~isempty(strfind(prj, 'Windows is not supported')), 'description');
end

function test_bad_option_values_raise_badArgument()
    bad = {{'ChunkSeconds', -1}, {'ChunkSeconds', 'x'}, {'DType', 'float64'}, ...
           {'Layers', 'middle'}, {'Layers', 1.5}, {'MatVersion', 6}, {'OnError', 'ignore'}, ...
           {'Threads', 0}, {'ContextSeconds', -2}, {'Overwrite', 'yes'}, {'Model', ''}, ...
           {'TargetRate', 0}, {'TR', -2}, {'GridStart', NaN}, {'Method', 'nearest'}, ...
           {'Edge', 'wrap'}, {'CND', 3}, {'NoSuchOption', 1}};
    for k = 1:numel(bad)
        w2vtest.assert_error(@() w2v.extract('a.wav', bad{k}{:}), 'w2v:badArgument');
    end
    w2vtest.assert_error(@() w2v.B2_model_wav2vec2('Layers', 'middle'), 'w2v:badArgument');
end

function test_audio_files_must_be_names()
    w2vtest.assert_error(@() w2v.extract(42), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.extract({}), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.extract(''), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.extract({'a.wav', 3}), 'w2v:badArgument');
    w2vtest.assert_error(@() w2v.extract(), 'w2v:badArgument');
end

function test_text_list_keeps_shape()
    w2vtest.verify_equal(w2v.internal.text_list('a.wav', 'x'), {'a.wav'}, 'char');
    w2vtest.verify_equal(w2v.internal.text_list({'a'; 'b'}, 'x'), {'a'; 'b'}, 'column cell');
    if ~w2v.internal.is_octave()
        w2vtest.verify_equal(w2v.internal.text_list(string({'a', 'b'}), 'x'), {'a', 'b'}, 'string');
    end
end

function test_request_holds_every_option()
    args = {'Layers', [6 12 -1], 'MatVersion', 7.3, 'ContextSeconds', 1.5, ...
            'Revision', 'main', 'Threads', 2, 'DType', 'Float16', 'OutputDir', 'out', ...
            'Overwrite', 1, 'Quiet', true, 'Model', 'm', 'Device', 'cpu', 'BaseName', 'b', ...
            'ChunkSeconds', int32(7), 'TargetRate', int16(128), 'TR', 2, 'GridStart', -0.5, ...
            'Method', 'Lanczos', 'Edge', 'zeros', 'CND', 'stim.mat', 'Segments', [0 1], ...
            'Causal', true, 'CausalContext', 4, 'CausalStep', 0.2, 'Verify', false};
    opts = w2v.internal.parse_options('t', args);
    request = w2v.internal.build_request({'a b.wav'}, opts);
    w2vtest.verify_equal(request.audio, {fullfile(pwd(), 'a b.wav')}, 'audio');
    w2vtest.verify_equal(request.output_dir, fullfile(pwd(), 'out'), 'output_dir');
    w2vtest.verify_equal(request.layers, [6 12 -1], 'layers');
    w2vtest.verify_equal(request.mat_version, '7.3', 'mat_version');
    w2vtest.verify_equal(request.context_seconds, 1.5, 'context_seconds');
    w2vtest.verify_equal(request.chunk_seconds, 7, 'chunk_seconds');
    w2vtest.verify_equal(request.revision, 'main', 'revision');
    w2vtest.verify_equal(request.threads, 2, 'threads');
    w2vtest.verify_equal(request.dtype, 'float16', 'dtype');
    w2vtest.verify_equal(request.overwrite, true, 'overwrite');
    w2vtest.verify_equal(request.quiet, true, 'quiet');
    w2vtest.verify_equal(request.target_rate, 128, 'target_rate');
    w2vtest.verify_equal(class(request.target_rate), 'double', 'target_rate class');
    w2vtest.verify_equal(request.grid_start, -0.5, 'grid_start');
    w2vtest.verify_equal(request.method, 'lanczos', 'method');
    w2vtest.verify_equal(request.cnd, fullfile(pwd(), 'stim.mat'), 'cnd');
    table = w2v.internal.option_table();
    % Every backend option but the SLURM ones (the table's last rows), which travel only
    % together with Cluster (test_cluster_options).
    table = table(1:find(strcmp(table(:, 1), 'Cluster')) - 1, :);
    keys = table(~cellfun(@isempty, table(:, 2)), 2);
    w2vtest.verify_equal(sort(fieldnames(request)), sort([{'audio'}; keys]), 'request keys');
    decoded = jsondecode(jsonencode(request));
    w2vtest.verify_equal(decoded.layers, [6; 12; -1], 'layers after JSON');
    w2vtest.verify_equal(decoded.audio, {fullfile(pwd(), 'a b.wav')}, 'audio after JSON');
end

function test_request_sends_only_what_was_set()
    opts = w2v.internal.parse_options('t', {'Layers', 'all', 'Threads', [], 'Revision', ''});
    request = w2v.internal.build_request({'/x/a.wav', '/x/b.wav'}, opts);
    w2vtest.verify_equal(sort(fieldnames(request)), {'audio'; 'layers'}, 'request keys');
    w2vtest.verify_equal(opts.OnError, 'error', 'MATLAB-side OnError default');
    w2vtest.verify_equal(opts.LoadResults, true, 'MATLAB-side LoadResults default');
    encoded = jsonencode(request);
    w2vtest.verify(~isempty(strfind(encoded, '"audio":["/x/a.wav","/x/b.wav"]')), '%s', encoded);
end

function test_one_file_is_still_a_json_list()
    opts = w2v.internal.parse_options('t', {});
    encoded = jsonencode(w2v.internal.build_request({'/x/a.wav'}, opts));
    w2vtest.verify_equal(encoded, '{"audio":["/x/a.wav"]}', 'request');
end

function test_absolute_path_keeps_absolute_and_anchors_relative()
    w2vtest.verify_equal(w2v.internal.absolute_path('/a/b.wav', '/x'), '/a/b.wav', 'absolute');
    w2vtest.verify_equal(w2v.internal.absolute_path('b.wav', '/x'), '/x/b.wav', 'relative');
    w2vtest.verify_equal(w2v.internal.absolute_path('.', '/x'), '/x', 'current folder');
    w2vtest.verify_equal(w2v.internal.absolute_path('~/b.wav', '/x'), ...
                         [getenv('HOME') '/b.wav'], 'home');
end

function test_public_help_has_h1_example_and_see_also()
    folder = fullfile(w2v.internal.toolbox_root(), '+w2v');
    listing = dir(fullfile(folder, '*.m'));
    w2vtest.verify(numel(listing) >= 5, 'public functions missing');
    for k = 1:numel(listing)
        [~, name] = fileparts(listing(k).name);
        text = fileread(fullfile(folder, listing(k).name));
        h1 = regexp(text, ['\n\s*%' upper(name) ' \S[^\n]*'], 'match', 'once');
        w2vtest.verify(~isempty(h1), '%s has no H1 line', name);
        w2vtest.verify(~isempty(strfind(text, ['w2v.' name '('])), '%s: no calling form', name);
        w2vtest.verify(~isempty(strfind(text, 'Example')), '%s: no example', name);
        w2vtest.verify(~isempty(strfind(text, 'See also')), '%s: no See also', name);
    end
end

function test_help_documents_every_option()
    root = fullfile(w2v.internal.toolbox_root(), '+w2v');
    extractHelp = fileread(fullfile(root, 'extract.m'));
    b2Help = fileread(fullfile(root, 'B2_model_wav2vec2.m'));
    table = w2v.internal.option_table();
    names = table(:, 1);
    for k = 1:numel(names)
        w2vtest.verify(~isempty(regexp(extractHelp, ['%\s+' names{k} '\s'], 'once')), ...
                       'w2v.extract help lacks %s', names{k});
        w2vtest.verify(~isempty(strfind(b2Help, names{k})), ...
                       'w2v.B2_model_wav2vec2 help lacks %s', names{k});
    end
end
