function restore = set_env(name, value)
    %SET_ENV Set an environment variable until the returned object is cleared.
    %   restore = w2vtest.set_env(name, value) returns an onCleanup object that
    %   puts the previous value back.

    previous = getenv(name);
    setenv(name, value);
    restore = onCleanup(@() setenv(name, previous));
end
