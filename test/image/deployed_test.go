package image_test

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// deployedImage is the manager container's image in config/default, built
// as `kubectl apply -k` builds it (kubectl's kustomize options).
func deployedImage() (string, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), repoRoot+"/config/default")
	if err != nil {
		return "", fmt.Errorf("kustomize build config/default: %w", err)
	}
	var images []string
	for _, res := range resMap.Resources() {
		if res.GetKind() != "Deployment" {
			continue
		}
		b, err := res.MarshalJSON()
		if err != nil {
			return "", err
		}
		var d appsv1.Deployment
		if err := json.Unmarshal(b, &d); err != nil {
			return "", fmt.Errorf("reading Deployment %s: %w", res.GetName(), err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == "manager" {
				images = append(images, c.Image)
			}
		}
	}
	if len(images) != 1 {
		return "", fmt.Errorf("%d manager containers in config/default, want 1", len(images))
	}
	return images[0], nil
}
