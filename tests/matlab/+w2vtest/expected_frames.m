function frames = expected_frames(numSamples)
    %EXPECTED_FRAMES Frames a wav2vec2 feature encoder gives for NUMSAMPLES samples.
    %   frames = w2vtest.expected_frames(numSamples) applies the conv layers'
    %   floor((n - kernel) / stride) + 1 for the kernels and strides of every
    %   wav2vec2-family encoder (320-sample stride, 400-sample receptive field).

    kernels = [10 3 3 3 3 2 2];
    strides = [5 2 2 2 2 2 2];
    frames = numSamples;
    for k = 1:numel(kernels)
        frames = floor((frames - kernels(k)) / strides(k)) + 1;
    end
end
