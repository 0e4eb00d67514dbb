function tests = test_cluster_options()
    %TEST_CLUSTER_OPTIONS SLURM submission options of w2v.extract; no Python needed.
    tests = localfunctions();
end

function test_request_carries_the_submission_options()
    args = {'Cluster', 'SLURM', 'Partition', 'gpu', 'GpusPerNode', 1, 'MemGB', 16, ...
            'TimeMin', 120, 'Tasks', 8, 'ArrayParallelism', 4, ...
            'Sbatch', {'account=lab', 'qos=high'}, 'LogDir', 'logs'};
    opts = w2v.internal.parse_options('t', args);
    request = w2v.internal.build_request({'/x/a.wav', '/x/b.wav'}, opts);
    w2vtest.verify_equal(request.cluster, 'slurm', 'cluster');
    w2vtest.verify_equal(request.partition, 'gpu', 'partition');
    w2vtest.verify_equal(request.gpus_per_node, 1, 'gpus_per_node');
    w2vtest.verify_equal(request.mem_gb, 16, 'mem_gb');
    w2vtest.verify_equal(request.time_min, 120, 'time_min');
    w2vtest.verify_equal(request.tasks, 8, 'tasks');
    w2vtest.verify_equal(request.array_parallelism, 4, 'array_parallelism');
    w2vtest.verify_equal(request.log_dir, fullfile(pwd(), 'logs'), 'log_dir');
    w2vtest.verify(~isfield(request, 'cpus_per_task'), 'an empty option is left out');
    encoded = jsonencode(request);
    w2vtest.verify(~isempty(strfind(encoded, '"sbatch":["account=lab","qos=high"]')), ...
                   '%s', encoded);
end

function test_one_sbatch_option_is_still_a_json_list()
    opts = w2v.internal.parse_options('t', {'Cluster', 'slurm', 'Sbatch', {'exclusive'}});
    encoded = jsonencode(w2v.internal.build_request({'/x/a.wav'}, opts));
    w2vtest.verify(~isempty(strfind(encoded, '"sbatch":["exclusive"]')), '%s', encoded);
end

function test_no_cluster_keys_without_cluster()
    opts = w2v.internal.parse_options('t', {'Partition', 'gpu'});
    request = w2v.internal.build_request({'/x/a.wav'}, opts);
    for name = {'cluster', 'partition', 'time_min', 'sbatch'}
        w2vtest.verify(~isfield(request, name{1}), '%s without Cluster', name{1});
    end
end

function test_bad_submission_values_raise_badArgument()
    bad = {{'Cluster', 'pbs'}, {'GpusPerNode', -1}, {'GpusPerNode', 1.5}, {'Tasks', 0}, ...
           {'MemGB', 0}, {'TimeMin', []}, {'Sbatch', 'account=lab'}, {'Partition', 3}};
    for k = 1:numel(bad)
        w2vtest.assert_error(@() w2v.extract('a.wav', bad{k}{:}), 'w2v:badArgument');
    end
end
