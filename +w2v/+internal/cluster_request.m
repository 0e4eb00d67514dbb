function request = cluster_request(request, opts)
    %CLUSTER_REQUEST Add the SLURM submission options of OPTS to a backend request.
    %   request = w2v.internal.cluster_request(request, opts). Nothing is added
    %   unless opts.Cluster is set; empty options are left out, so the
    %   cluster's and the backend's defaults apply. Keys as in w2v-extract's
    %   --request file (cluster, tasks, partition, gpus_per_node, ...).

    if isempty(opts.Cluster)
        return
    end
    request.cluster = lower(char(opts.Cluster));
    names = {'Tasks', 'tasks'; 'Partition', 'partition'; 'GpusPerNode', 'gpus_per_node'; ...
             'CpusPerTask', 'cpus_per_task'; 'MemGB', 'mem_gb'; 'TimeMin', 'time_min'; ...
             'ArrayParallelism', 'array_parallelism'};
    for k = 1:size(names, 1)
        value = opts.(names{k, 1});
        if isnumeric(value)
            value = double(value);
        end
        if ~isempty(value)
            request.(names{k, 2}) = value;
        end
    end
    if ~isempty(opts.Sbatch)
        % A cell of 'KEY=VALUE' becomes a JSON list, a struct a JSON object.
        request.sbatch = opts.Sbatch;
    end
    if ~isempty(opts.LogDir)
        request.log_dir = w2v.internal.absolute_path(char(opts.LogDir), pwd());
    end
end
