# Runs every Batch operation as one caller (credentials from the environment) and prints {operation: "OK" | error code}.
# Used by users.test.ts: users must get AccessDeniedException for CE/queue/policy mutations and OK for the rest.
import json, os, sys
import boto3, botocore

b = boto3.client("batch", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s, queue, ce, policy = os.environ["SUFFIX"], os.environ["QUEUE"], os.environ["CE"], os.environ["POLICY_ARN"]
res = {}


def t(name, fn):
    try:
        r = fn()
        res[name] = "OK"
        return r
    except botocore.exceptions.ClientError as e:
        res[name] = e.response["Error"]["Code"]
        return None


t("DescribeComputeEnvironments", lambda: b.describe_compute_environments())
new_ce = t("CreateComputeEnvironment", lambda: b.create_compute_environment(
    computeEnvironmentName="ce-" + s, type="MANAGED",
    computeResources={"type": "EC2", "maxvCpus": 2, "subnets": ["subnet-1"]}))
ce_target = "ce-" + s if new_ce else ce
t("UpdateComputeEnvironment", lambda: b.update_compute_environment(computeEnvironment=ce_target, state="DISABLED"))
t("DescribeJobQueues", lambda: b.describe_job_queues())
new_q = t("CreateJobQueue", lambda: b.create_job_queue(
    jobQueueName="jq-" + s, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}]))
q_target = "jq-" + s if new_q else queue
t("UpdateJobQueue", lambda: b.update_job_queue(jobQueue=q_target, state="DISABLED"))
t("TagResource", lambda: b.tag_resource(resourceArn=b.describe_job_queues(jobQueues=[q_target])["jobQueues"][0]["jobQueueArn"], tags={"k": "v"}))
t("UntagResource", lambda: b.untag_resource(resourceArn=b.describe_job_queues(jobQueues=[q_target])["jobQueues"][0]["jobQueueArn"], tagKeys=["k"]))
t("DeleteJobQueue", lambda: b.delete_job_queue(jobQueue=q_target))
t("DeleteComputeEnvironment", lambda: b.delete_compute_environment(computeEnvironment=ce_target))
t("DescribeSchedulingPolicies", lambda: b.describe_scheduling_policies(arns=[policy]))
t("ListSchedulingPolicies", lambda: b.list_scheduling_policies())
new_sp = t("CreateSchedulingPolicy", lambda: b.create_scheduling_policy(name="sp-" + s))
sp_target = new_sp["arn"] if new_sp else policy
t("UpdateSchedulingPolicy", lambda: b.update_scheduling_policy(arn=sp_target, fairsharePolicy={"shareDecaySeconds": 60}))
t("DeleteSchedulingPolicy", lambda: b.delete_scheduling_policy(arn=sp_target))

props = {"image": "busybox", "command": ["sleep", "30"],
         "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "16"}]}
jd = t("RegisterJobDefinition", lambda: b.register_job_definition(jobDefinitionName="jd-" + s, type="container", containerProperties=props))
t("DescribeJobDefinitions", lambda: b.describe_job_definitions(jobDefinitionName="jd-" + s))
job = t("SubmitJob", lambda: b.submit_job(jobName="j-" + s, jobQueue=queue, jobDefinition="jd-" + s))
job_id = job["jobId"] if job else "none"
d = t("DescribeJobs", lambda: b.describe_jobs(jobs=[job_id]))
res["DescribeJobsCount"] = len(d["jobs"]) if d else -1
t("ListJobs", lambda: b.list_jobs(jobQueue=queue, jobStatus="RUNNABLE"))
t("ListTagsForResource", lambda: b.list_tags_for_resource(resourceArn=job["jobArn"]))
t("TagResource(own job)", lambda: b.tag_resource(resourceArn=job["jobArn"], tags={"k": "v"}))
t("UntagResource(own job)", lambda: b.untag_resource(resourceArn=job["jobArn"], tagKeys=["k"]))
t("CancelJob", lambda: b.cancel_job(jobId=job_id, reason="test"))
job2 = t("SubmitJob(2)", lambda: b.submit_job(jobName="k-" + s, jobQueue=queue, jobDefinition="jd-" + s))
t("TerminateJob", lambda: b.terminate_job(jobId=job2["jobId"] if job2 else "none", reason="test"))
t("DeregisterJobDefinition", lambda: b.deregister_job_definition(jobDefinition=jd["jobDefinitionArn"] if jd else "none"))
print(json.dumps(res))
