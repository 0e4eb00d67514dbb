function tests = test_command_line()
    %TEST_COMMAND_LINE Commands carry no data; the data reach the program verbatim.
    %   The same strings under sh, dash, bash, zsh, tcsh, csh and fish:
    %   tests/test_shell_matrix.py.
    tests = localfunctions();
end

function value = hostile(marker)
    value = [sprintf('it''s "a" & b; $(touch %s) `touch %s` ! %%PATH%% \\ $HOME ', ...
                     marker, marker) 'Aufnahme ' utf8([195 164 32 233 159 179 229 163 176])];
end

function text = utf8(bytes)
    % Non-ASCII text from its UTF-8 bytes (the source stays ASCII).
    text = native2unicode(uint8(bytes), 'UTF-8');
end

function test_command_holds_no_data()
    marker = [tempname() '_marker'];
    [command, env] = w2v.internal.command_line({'/x y/python', hostile(marker)}, ...
                                               '/tmp/e f', 'L:M');
    w2vtest.verify(isempty(strfind(command, marker)), 'data in %s', command);
    w2vtest.verify(isempty(strfind(command, '/x y')), 'data in %s', command);
    w2vtest.verify(strncmp(command, '/bin/sh -c ''', 12) && command(end) == '''', ...
                   'not a /bin/sh -c command: %s', command);
    payload = command(13:end - 1);
    w2vtest.verify(isempty(regexp(payload, '[''!\\\n]', 'once')), 'unsafe payload %s', payload);
    w2vtest.verify_equal(env(:, 1)', {'W2V_ARG0', 'W2V_ARG1', 'W2V_STDERR', ...
                                      'W2V_LIBRARY_PATH'}, 'variable names');
    w2vtest.verify_equal(env(:, 2)', {'/x y/python', hostile(marker), '/tmp/e f', 'L:M'}, ...
                         'variable values');
end

function test_same_shape_gives_the_same_command()
    a = w2v.internal.command_line({'p', 'a'}, 1);
    b = w2v.internal.command_line({'q q', '$(x)'}, 1);
    w2vtest.verify_equal(a, b, 'command of two different argument lists');
end

function test_hostile_arguments_reach_the_program_verbatim()
    marker = [tempname() '_marker'];
    args = {hostile(marker), 'plain', '', 'two  spaces', '-c'};
    for k = 1:numel(args)
        [status, output] = w2v.internal.run_command({'printf', '%s|', args{k}});
        w2vtest.verify_equal(status, 0, 'printf status');
        w2vtest.verify_equal(output, [args{k} '|'], ['argument ' args{k}]);
    end
    w2vtest.verify(~isfile(marker), 'an argument was executed');
end

function test_stderr_goes_to_a_file_with_a_hostile_name()
    folder = [tempname() ' it''s $(x) & `y`'];
    mkdir(folder);
    cleanup = onCleanup(@() w2vtest.remove_folder(folder));
    file = fullfile(folder, 'err "file".txt');
    [status, output] = w2v.internal.run_command({'sh', '-c', 'echo out; echo err >&2'}, file);
    w2vtest.verify_equal(status, 0, 'status');
    w2vtest.verify_equal(output, sprintf('out\n'), 'stdout');
    w2vtest.verify_equal(w2v.internal.read_text(file), sprintf('err\n'), 'stderr file');
    [~, merged] = w2v.internal.run_command({'sh', '-c', 'echo err >&2'}, 1);
    w2vtest.verify_equal(merged, sprintf('err\n'), 'stderr merged into stdout');
end

function test_library_path_is_set_or_removed_for_the_program_only()
    restore = w2vtest.set_env('LD_LIBRARY_PATH', '/matlab/bin/glnxa64');
    show = {'sh', '-c', 'printf %s "${LD_LIBRARY_PATH-unset}"'};
    [~, output] = w2v.internal.run_command(show, '', '/keep:/also');
    w2vtest.verify_equal(output, '/keep:/also', 'cleaned value');
    [~, output] = w2v.internal.run_command(show, '', '');
    w2vtest.verify_equal(output, 'unset', 'empty value removes it');
    [~, output] = w2v.internal.run_command(show);
    w2vtest.verify_equal(output, '/matlab/bin/glnxa64', 'left alone');
    w2vtest.verify_equal(getenv('LD_LIBRARY_PATH'), '/matlab/bin/glnxa64', 'own environment');
end

function test_variables_are_restored_after_the_call_and_after_an_error()
    restore = w2vtest.set_env('W2V_ARG0', 'before');
    w2v.internal.run_command({'true', 'x'});
    w2vtest.verify_equal(getenv('W2V_ARG0'), 'before', 'W2V_ARG0 after a call');
    w2vtest.verify_equal(getenv('W2V_ARG1'), '', 'W2V_ARG1 after a call');
    w2vtest.assert_error(@() w2v.internal.run_command({'true', sprintf('a\nb')}), ...
                         'w2v:unsafePath');
    w2vtest.verify_equal(getenv('W2V_ARG0'), 'before', 'W2V_ARG0 after an error');
end

function test_line_breaks_and_nul_are_refused()
    for bad = {sprintf('a\nb'), sprintf('a\rb'), ['a' char(0) 'b']}
        w2vtest.assert_error(@() w2v.internal.command_line({'p', bad{1}}), 'w2v:unsafePath');
    end
    w2vtest.assert_error(@() w2v.internal.command_line({'p'}, sprintf('/tmp/a\nb')), ...
                         'w2v:unsafePath');
    fake = w2vtest.fake_venv('', 0);
    w2vtest.assert_error(@() w2v.setup('Python', fake.python, 'VenvDir', ...
                                       sprintf('%s/a\nb', tempdir())), 'w2v:unsafePath');
end
