"""The CDK app: imgpipe's AWS stack, built from the processor manifests under services/."""
