function skip(reason)
    %SKIP Skip the running test, giving the reason (raises w2v:test:skip).
    %   w2vtest.skip(reason)

    error('w2v:test:skip', '%s', reason);
end
