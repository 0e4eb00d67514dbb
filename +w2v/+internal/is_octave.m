function tf = is_octave()
    %IS_OCTAVE True when running in GNU Octave, false in MATLAB.
    %   tf = w2v.internal.is_octave() returns a logical scalar. The answer is
    %   computed once and cached; this is the only place that asks.

    persistent cached
    if isempty(cached)
        cached = exist('OCTAVE_VERSION', 'builtin') ~= 0;
    end
    tf = cached;
end
