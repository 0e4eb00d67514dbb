function tests = test_zz_injection()
    %TEST_ZZ_INJECTION Runs last: no part of a hostile file name was ever executed.
    tests = localfunctions();
end

function test_no_file_name_was_executed_during_the_suite()
    fx = w2vtest.fixture();
    w2vtest.verify_no_injection(fx, {tempdir(), fx.root, fileparts(fx.hostile)});
end
