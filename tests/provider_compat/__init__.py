"""Programs written against the provider class this SDK grew from (gpt4free's DeepInfra)."""
